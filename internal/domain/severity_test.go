package domain

import "testing"

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in   string
		want Severity
		ok   bool
	}{
		{"DEFAULT", Default, true}, {"DEBUG", Debug, true}, {"INFO", Info, true}, {"NOTICE", Notice, true},
		{"WARNING", Warning, true}, {"warn", Warning, true}, {"ERROR", Error, true}, {"CRITICAL", Critical, true},
		{"FATAL", Critical, true}, {"ALERT", Alert, true}, {"EMERGENCY", Emergency, true},
		{"200.0", Info, true}, {"500", Error, true}, {"850", Emergency, true}, {"SEVERE", Error, true},
		{"trace", Debug, true}, {"hello", Default, false}, {"", Default, false}, {"-1", Default, false},
	}
	for _, tt := range tests {
		got, ok := ParseSeverity(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseSeverity(%q) = %s,%v; want %s,%v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if Error.String() != "ERROR" || Severity(450).String() != "WARNING" {
		t.Error("String")
	}
}

func TestFingerprintStable(t *testing.T) {
	a := NewFingerprint("api", NewTemplateID("disk <*> full"))
	b := NewFingerprint("api", NewTemplateID("disk <*> full"))
	c := NewFingerprint("web", NewTemplateID("disk <*> full"))
	if a != b || a == c || len(a) != 20 {
		t.Errorf("fingerprints %s %s %s", a, b, c)
	}
}

func TestIsLevelWord(t *testing.T) {
	for tok, want := range map[string]bool{"ERROR": true, "WARN": true, "Error": false, "error": false, "200": false, "": false, "KERNEL": false} {
		if got := IsLevelWord(tok); got != want {
			t.Errorf("IsLevelWord(%q) = %v", tok, got)
		}
	}
}
