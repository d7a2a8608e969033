package dashboard

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// BenchmarkPages renders the list of 1,000 incidents and one incident's
// page with a day-long timeline.
//
//	go test -run '^$' -bench Pages ./internal/dashboard
func BenchmarkPages(b *testing.B) {
	st, tr, reg := fixture(&testing.T{})
	for i := range 1000 {
		st.incs = append(st.incs, domain.Incident{Fingerprint: domain.Fingerprint(fmt.Sprintf("%020d", i)), Service: fmt.Sprintf("svc-%d", i%20),
			Severity: domain.Error, State: domain.StateDelivered, Count: int64(i), LastSeen: t0.Add(time.Duration(i) * time.Minute),
			Templates: []domain.Template{{ID: "t", Text: "request to <*> failed after <*> ms", Count: int64(i)}}})
	}
	tl := domain.Timeline{}
	for m := int64(0); m < domain.MaxTimeline; m++ {
		tl.Add(t0.Unix()/60+m, m%17)
	}
	st.incs[0].Timeline = tl
	h, err := New(Options{Store: st, Audit: tr, Gatherer: reg})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []string{"/", "/incidents/aaaa1111"} {
		b.Run(p, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
