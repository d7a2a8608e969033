// Package datasets locates the public logs in ../shared/data for tests and
// benchmarks. Outside CI a missing folder skips the test with a clear
// message; under CI (CI set) it fails, because there the data must be tested.
package datasets

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir is $SRE_AGENT_DATA, else ../shared/data from the project root.
func Dir() string {
	if d := os.Getenv("SRE_AGENT_DATA"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
}

// Path returns the shared file or folder at rel, skipping (or, in CI,
// failing) the test when it is not there.
func Path(t testing.TB, rel ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir()}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared data missing in CI: %v", err)
		}
		t.Skipf("shared data not found (%v): put the public logs in ../shared/data beside this checkout (see CONTRIBUTING.md), or point SRE_AGENT_DATA at them; CI runs this test", err)
	}
	return p
}
