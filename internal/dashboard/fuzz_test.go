package dashboard

import (
	"strings"
	"testing"
)

// FuzzIncidentPage renders an incident whose log text is anything: the page
// must render, and no log-derived text may open an element or an event
// handler outside text (the only script element is the page's own).
//
//	go test -run '^$' -fuzz FuzzIncidentPage -fuzztime 30s ./internal/dashboard
func FuzzIncidentPage(f *testing.F) {
	for _, s := range []string{hostile, `"><svg onload=alert(1)>`, `</pre><script>x()</script>`, "javascript:alert(1)", "\x00\xff<", `{{.}}`} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, text, service string) {
		st, tr, reg := fixture(t)
		st.incs[0].Samples = []string{text}
		st.incs[0].Templates[0].Text = text
		st.incs[0].Stack = text
		st.incs[0].Service = service
		st.incs[0].Labels = map[string]string{"k": text}
		h, err := New(Options{Store: st, Audit: tr, Gatherer: reg})
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/incidents/aaaa1111", "/?q=" + "x"} {
			resp, body := get(t, h, "GET", path)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", path, resp.StatusCode)
			}
			lower := strings.ToLower(body)
			if n := strings.Count(lower, "<script"); n != 1 {
				t.Fatalf("%s: %d script elements for text %q", path, n, text)
			}
			for _, bad := range []string{"<svg onload", "<img", "<iframe", "<object", "<a href=\"javascript"} {
				if strings.Contains(lower, bad) {
					t.Fatalf("%s: %q reached the page for text %q", path, bad, text)
				}
			}
		}
	})
}
