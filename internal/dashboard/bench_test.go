package dashboard

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// BenchmarkPages renders pages of the list over 10,000 incidents kept in
// SQLite (the first page, a search, a sorted page deep in the list) and
// one incident's page with a day-long timeline.
//
//	go test -run '^$' -bench Pages ./internal/dashboard
func BenchmarkPages(b *testing.B) {
	st, tr, reg := fixture(b)
	for i := range 10_000 {
		st.incs = append(st.incs, domain.Incident{Fingerprint: domain.Fingerprint(fmt.Sprintf("%020d", i)), Service: fmt.Sprintf("svc-%d", i%20),
			Severity: domain.Error, State: domain.StateNew, Count: int64(i), FirstSeen: t0, LastSeen: t0.Add(time.Duration(i) * time.Minute),
			Templates: []domain.Template{{ID: "t", Text: fmt.Sprintf("request to <*> failed after <*> ms (%d)", i%50), Count: int64(i)}},
			Samples:   []string{fmt.Sprintf("request to 10.0.0.%d:8080 failed after %d ms", i%250, i)}})
	}
	tl := domain.Timeline{}
	for m := int64(0); m < domain.MaxTimeline; m++ {
		tl.Add(t0.Unix()/60+m, m%17)
	}
	st.incs[0].Timeline = tl
	st.store() // seeded before the clock runs
	h, err := New(Options{Store: st, Audit: tr, Gatherer: reg})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []string{"/", "/?q=failed+after+1234", "/?sort=events&page=50", "/incidents/aaaa1111"} {
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
