package redact

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// withCheckDigit appends the Luhn check digit to digits.
func withCheckDigit(digits string) string {
	for c := 0; c <= 9; c++ {
		if luhnString(digits + strconv.Itoa(c)) {
			return digits + strconv.Itoa(c)
		}
	}
	panic("no check digit")
}

// Every form the red team found, in a plain line, a logfmt line, a JSON
// line and JSON carried as a string inside JSON.
func TestRedactsEveryFormInEveryEncoding(t *testing.T) {
	card14 := withCheckDigit("4000000000000") // a Visa prefix, 14 digits: a card in a payment context
	forms := []struct{ name, text, secret string }{
		{"google oauth", "token ya29.a0AfH6SMBx3d0cExampleAccessTokenValue_123", "ya29.a0AfH6SMBx3d0cExampleAccessTokenValue_123"},
		{"google refresh", "refresh 1//0gLcExampleRefreshTokenValueAbCdEfGhIjKlMn", "1//0gLcExampleRefreshTokenValueAbCdEfGhIjKlMn"},
		{"gitlab pat", "clone with glpat-xYz12AbCdEfGhIjKlMnOp", "glpat-xYz12AbCdEfGhIjKlMnOp"},
		{"ruby hash", `params {"password"=>"Hunter2Hunter2x"}`, "Hunter2Hunter2x"},
		{"gcs signed url", "GET https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=4b6f9e2a1c0d8e7f6a5b4c3d2e1f0a9b&X-Goog-Expires=900", "4b6f9e2a1c0d8e7f6a5b4c3d2e1f0a9b"},
		{"s3 signed url", "GET https://b.s3.amazonaws.com/k?X-Amz-Signature=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		{"docker config", `config {"auths":{"gcr.io":{"auth":"dXNlcjpnaHBfc2VjcmV0dG9rZW4xMjM="}}}`, "dXNlcjpnaHBfc2VjcmV0dG9rZW4xMjM="},
		{"xml password", "<db><password>Sup3rS3cretPw</password></db>", "Sup3rS3cretPw"},
		{"url-encoded email", "GET /reset?user=jane.doe%40example.com&x=1", "jane.doe%40example.com"},
		{"pass=", "login pass=Tr0ub4dor77 failed", "Tr0ub4dor77"},
		{"secret_key=", "loaded secret_key=q8Zr2mVx7LpT4nWs", "q8Zr2mVx7LpT4nWs"},
		{"db_pass=", "connect db_pass=Zx9Qw2Er7Ty", "Zx9Qw2Er7Ty"},
		{"password in prose", "user bob password hunter2 rejected", "hunter2"},
		{"vault", "vault token hvs.CAESIJ2mExampleVaultTokenValue1234", "hvs.CAESIJ2mExampleVaultTokenValue1234"},
		{"hugging face", "HF hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"},
		{"digitalocean", "do dop_v1_" + strings.Repeat("a1b2c3d4", 8), "dop_v1_" + strings.Repeat("a1b2c3d4", 8)},
		{"pypi", "upload pypi-AgEIcHlwaS5vcmcCJGU0ZjM4ZDQ1LWExYzQtNDBhMi05ZGM1LTRiMzM2ZWM2MjE5ZQ", "pypi-AgEIcHlwaS5vcmcCJGU0ZjM4ZDQ1LWExYzQtNDBhMi05ZGM1LTRiMzM2ZWM2MjE5ZQ"},
		{"twilio", "twilio key SK0123456789abcdef0123456789abcdef", "SK0123456789abcdef0123456789abcdef"},
		{"ssn without dashes", "applicant ssn=123456789 stored", "123456789"},
		{"client secret", `config load: {"client_id": "web", "client_secret": "FUhxf4buYEaguPGLVw53"}`, "FUhxf4buYEaguPGLVw53"},
		{"card any length", "charge card=" + card14 + " declined", card14},
		{"pan", "pan=" + withCheckDigit("37828224631000") + " stored", withCheckDigit("37828224631000")},
	}
	r := New(DefaultOptions())
	for _, f := range forms {
		js, _ := json.Marshal(map[string]string{"msg": f.text})
		jsInJS, _ := json.Marshal(map[string]string{"msg": "payload " + string(js)})
		lines := map[string]string{
			"plain":        f.text,
			"logfmt":       `level=error msg=` + strconv.Quote(f.text),
			"json":         string(js),
			"json-in-json": string(jsInJS),
		}
		for enc, line := range lines {
			got := r.Redact(line)
			if strings.Contains(got, f.secret) {
				t.Errorf("%s (%s): %q → %q", f.name, enc, line, got)
			}
			if again := r.Redact(got); again != got {
				t.Errorf("%s (%s): redacting twice changes %q to %q", f.name, enc, got, again)
			}
			if kinds := r.Find(got); len(kinds) > 0 {
				t.Errorf("%s (%s): the redacted line %q is found to hold %v", f.name, enc, got, kinds)
			}
		}
	}
}

// Text that holds only markers holds no secret: the gates must let it
// through.
func TestMarkersAreNotSecrets(t *testing.T) {
	r := New(DefaultOptions())
	for _, s := range []string{
		"postgres://app_user:[REDACTED:url-password]@[REDACTED:ipv4]:5432/orders",
		`"client_secret": [REDACTED:secret]`,
		`{"client_secret": "[REDACTED:secret]"}`,
		"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=[REDACTED:azure-connection-string];EndpointSuffix=core.windows.net",
		"Authorization: Bearer [REDACTED:authorization]",
		"password [REDACTED:secret] rejected",
		"GET /o?X-Goog-Signature=[REDACTED:url-signature]",
	} {
		if kinds := r.Find(s); len(kinds) > 0 {
			t.Errorf("%q: found %v", s, kinds)
		}
	}
	// ...and prose around passwords stays prose.
	for _, s := range []string{"password reset requested for user 42", "the password is incorrect", "card declined: insufficient funds"} {
		if got := r.Redact(s); got != s {
			t.Errorf("%q → %q", s, got)
		}
	}
}

type knownValues []string

func (k knownValues) Mask(s string) string {
	for _, v := range k {
		s = strings.ReplaceAll(s, v, Marker(LoadedSecret))
	}
	return s
}

// The agent's own loaded secrets are masked by exact match, whatever their
// shape, and found by the gates.
func TestKnownValuesAreMaskedAndFound(t *testing.T) {
	r := New(DefaultOptions()).WithKnown(knownValues{"opaque7Zq9VALUE"})
	if got := r.Redact("401 Bad credentials: opaque7Zq9VALUE"); strings.Contains(got, "opaque7Zq9VALUE") {
		t.Fatal(got)
	}
	if kinds := r.Find("echo opaque7Zq9VALUE"); len(kinds) != 1 || kinds[0] != LoadedSecret {
		t.Fatalf("kinds %v", kinds)
	}
	if kinds := New(DefaultOptions()).Find("echo opaque7Zq9VALUE"); len(kinds) != 0 {
		t.Fatalf("without the known values: %v", kinds)
	}
}
