package stack

import (
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

func TestParseByLanguage(t *testing.T) {
	cases := []struct {
		name  string
		trace string
		top   domain.Frame // the top in-app frame
		n     int          // frames found
	}{
		{"go", `panic: runtime error: invalid memory address or nil pointer dereference
goroutine 1 [running]:
main.(*Server).handle(0xc000010000, {0x0, 0x0})
	/src/app/server.go:42 +0x1d
net/http.HandlerFunc.ServeHTTP(0x0?, {0x7f, 0xc0}, 0xc0)
	/usr/local/go/src/net/http/server.go:2171 +0x29
main.main()
	/src/app/main.go:12 +0x25`, domain.Frame{Function: "main.(*Server).handle", File: "/src/app/server.go", Line: 42, Lang: "go", InApp: true}, 3},
		{"java", `java.lang.NullPointerException: Cannot invoke "String.length()"
	at com.acme.orders.OrderService.total(OrderService.java:88)
	at com.acme.orders.OrderController.get(OrderController.java:31)
	at java.base/java.lang.Thread.run(Thread.java:833)`, domain.Frame{Function: "com.acme.orders.OrderService.total", File: "com/acme/orders/OrderService.java", Line: 88, Lang: "java", InApp: true}, 3},
		{"python", `Traceback (most recent call last):
  File "/usr/lib/python3.11/site-packages/flask/app.py", line 1484, in full_dispatch_request
    rv = self.dispatch_request()
  File "/app/api/views.py", line 17, in index
    return items[3]
IndexError: list index out of range`, domain.Frame{Function: "index", File: "/app/api/views.py", Line: 17, Lang: "python", InApp: true}, 2},
		{"node", `TypeError: Cannot read properties of undefined (reading 'id')
    at getUser (/app/src/users.js:22:15)
    at Layer.handle (/app/node_modules/express/lib/router/layer.js:95:5)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)`, domain.Frame{Function: "getUser", File: "/app/src/users.js", Line: 22, Lang: "node", InApp: true}, 3},
		{"dotnet", `System.NullReferenceException: Object reference not set to an instance of an object.
   at Shop.Api.CartController.Add(Int32 id) in /src/Shop.Api/CartController.cs:line 40
   at System.Threading.ExecutionContext.Run()`, domain.Frame{Function: "Shop.Api.CartController.Add(Int32 id)", File: "/src/Shop.Api/CartController.cs", Line: 40, Lang: "dotnet", InApp: true}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frames := Parse(tc.trace)
			if len(frames) != tc.n {
				t.Fatalf("got %d frames %v, want %d", len(frames), frames, tc.n)
			}
			top, ok := TopInApp(frames)
			if !ok || top != tc.top {
				t.Fatalf("top in-app frame = %+v (%v), want %+v", top, ok, tc.top)
			}
		})
	}
}

func TestRuntimeFramesAreNotInApp(t *testing.T) {
	frames := Parse("goroutine 1 [running]:\nruntime.gopanic(0x1)\n\t/usr/local/go/src/runtime/panic.go:770 +0x132\n")
	if len(frames) != 1 || frames[0].InApp {
		t.Fatalf("runtime frame: %+v", frames)
	}
	if _, ok := TopInApp(frames); ok {
		t.Fatal("a runtime-only trace has no in-app frame")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("\tat a.B.c(B.java:1)\n  File \"x.py\", line 2, in f\n    at g (/x.js:1:2)\n")
	f.Add("main.f()\n\t/a/b.go:3 +0x1\n")
	f.Fuzz(func(t *testing.T, s string) {
		frames := Parse(s)
		if len(frames) > MaxFrames {
			t.Fatalf("%d frames over the bound", len(frames))
		}
		for _, fr := range frames {
			if fr.File == "" || fr.Line < 0 {
				t.Fatalf("bad frame %+v", fr)
			}
			_ = fr.String()
		}
	})
}
