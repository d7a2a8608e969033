package reference

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/CONFIG.md")

// docs/CONFIG.md is what the code says, and every key says what it does.
func TestReferenceIsCurrent(t *testing.T) {
	keys, err := Keys("../../..")
	if err != nil {
		t.Fatal(err)
	}
	var undocumented []string
	for _, k := range keys {
		if k.Doc == "" {
			undocumented = append(undocumented, k.Path)
		}
	}
	if len(undocumented) > 0 {
		t.Errorf("%d keys have no doc comment in the source: %v", len(undocumented), undocumented)
	}
	var b bytes.Buffer
	if err := Write(&b, keys); err != nil {
		t.Fatal(err)
	}
	const path = "../../../docs/CONFIG.md"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(have, b.Bytes()) {
		t.Fatalf("docs/CONFIG.md is stale: go test ./internal/config/reference -update (%v)", err)
	}
}
