package redact

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/datasets"
)

func TestRedactFindsSecrets(t *testing.T) {
	r := New(DefaultOptions())
	tests := []struct {
		name, in, secret string
		kind             Kind
	}{
		{"aws key id", "using key AKIAIOSFODNN7EXAMPLE for upload", "AKIAIOSFODNN7EXAMPLE", AWSAccessKey},
		{"aws secret", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", AWSSecretKey},
		{"gcp api key", "GET /maps?key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", GCPAPIKey},
		{"sa private key json", `{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"}`, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", PrivateKey},
		{"pem rsa", "key: -----BEGIN RSA PRIVATE KEY----- MIIEpAIBAAKCAQEA7 -----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA7", PrivateKey},
		{"github classic", "token ghp_16C7e42F292c6912E7710c838347Ae178B4a rejected", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", GitHubToken},
		{"github oauth", "gho_16C7e42F292c6912E7710c838347Ae178B4a", "gho_16C7e42F292c6912E7710c838347Ae178B4a", GitHubToken},
		{"github app", "ghs_16C7e42F292c6912E7710c838347Ae178B4a", "ghs_16C7e42F292c6912E7710c838347Ae178B4a", GitHubToken},
		{"github user-to-server", "ghu_16C7e42F292c6912E7710c838347Ae178B4a", "ghu_16C7e42F292c6912E7710c838347Ae178B4a", GitHubToken},
		{"github refresh", "ghr_16C7e42F292c6912E7710c838347Ae178B4a", "ghr_16C7e42F292c6912E7710c838347Ae178B4a", GitHubToken},
		{"github fine-grained", "auth github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012 ok", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012", GitHubToken},
		{"slack bot", "slack xoxb-2345678901-2345678901234-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-2345678901-2345678901234-AbCdEfGhIjKlMnOpQrStUvWx", SlackToken},
		{"slack webhook", "posting to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", SlackWebhook},
		{"stripe", "charge failed key=sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc", StripeKey},
		{"sendgrid", "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", "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr", SendGridKey},
		{"npm", "//registry.npmjs.org/:_authToken npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm_abcdefghijklmnopqrstuvwxyz0123456789", NPMToken},
		{"openai", "OPENAI key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD", "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD", OpenAIKey},
		{"anthropic", "x-api-key sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789", AnthropicKey},
		{"jwt", "session eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", JWT},
		{"bearer", "Authorization: Bearer abc123def456ghi789", "abc123def456ghi789", AuthHeader},
		{"basic", "authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==", AuthHeader},
		{"url password", "connect postgres://app:hunter2secret@db.internal:5432/app failed", "hunter2secret", URLPassword},
		{"azure", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;EndpointSuffix=core.windows.net", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==", AzureConnection},
		{"kv password", "login failed user=bob password=Tr0ub4dor&3", "Tr0ub4dor", Secret},
		{"json secret", `{"client_secret": "s3cr3t-value-here", "user": "x"}`, "s3cr3t-value-here", Secret},
		{"email", "mail to jane.doe+ops@example.co.uk bounced", "jane.doe+ops@example.co.uk", Email},
		{"phone us", "call (415) 555-0132 now", "555-0132", Phone},
		{"phone intl", "sms to +44 20 7946 0958 failed", "7946 0958", Phone},
		{"card visa", "card 4111 1111 1111 1111 declined", "4111 1111 1111 1111", CardNumber},
		{"card amex", "card=378282246310005 declined", "378282246310005", CardNumber},
		{"iban", "payout to DE89 3704 0044 0532 0130 00 failed", "DE89 3704 0044 0532 0130 00", IBAN},
		{"iban compact", "iban GB82WEST12345698765432", "GB82WEST12345698765432", IBAN},
		{"ssn", "ssn 123-45-6789 on file", "123-45-6789", SSN},
		{"ipv4", "connect from 81.2.69.160:50010 refused", "81.2.69.160", IPv4},
		{"ipv6", "client 2001:db8::8a2e:370:7334 reset", "2001:db8::8a2e:370:7334", IPv6},
		{"ipv6 loopback", "client: ::1, server: _", "::1", IPv6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Redact(tt.in)
			if strings.Contains(got, tt.secret) {
				t.Errorf("Redact(%q) = %q, still holds %q", tt.in, got, tt.secret)
			}
			if !strings.Contains(got, Marker(tt.kind)) {
				t.Errorf("Redact(%q) = %q, want marker %s", tt.in, got, Marker(tt.kind))
			}
		})
	}
}

func TestRedactLeavesOrdinaryText(t *testing.T) {
	r := New(DefaultOptions())
	clean := []string{
		"request 3f2a9c1e-8b7d-4e2f-9a1b-2c3d4e5f6a7b completed in 35ms",
		"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 pulled",
		"commit 4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
		"2015-10-18 18:01:47,978 INFO [main] Created MRAppMaster for application appattempt_1445144423722_0020_000001",
		"PacketResponder 1 for block blk_38865049064139660 terminating",
		"Deleting block blk_-6952295868487656571 file /mnt/hadoop/dfs/data/current/subdir19/blk_-6952295868487656571",
		"Loaded Servicing Stack v6.1.7601.23505 with Core",
		"check pass; user unknown",
		"10:42:29.902022 took 12.5s",
		"Executing with tokens:",
		"trace id 1dbe317eb73eb6e3bbb51a2bc3a41e09 span 3e3a5741b18f0710",
	}
	for _, in := range clean {
		if got := r.Redact(in); got != in {
			t.Errorf("Redact(%q) = %q, want unchanged", in, got)
		}
	}
}

func TestRedactOptionsKeepAddresses(t *testing.T) {
	r := New(Options{})
	in := "from 10.0.0.1 mail a@b.io"
	if got := r.Redact(in); got != in {
		t.Errorf("with addresses allowed, Redact(%q) = %q", in, got)
	}
	// Secrets are not optional.
	if got := r.Redact("password=abc12345"); strings.Contains(got, "abc12345") {
		t.Errorf("secret survived with PII options off: %q", got)
	}
}

// The shared Loghub files are ordinary logs: the redactor must not mangle
// most of their lines, but their IP addresses must all go.
func TestRedactLoghubFalsePositives(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(datasets.Path(t, "loghub"), "*", "*_2k.log"))
	if len(files) == 0 {
		t.Fatal("no Loghub files in the shared data")
	}
	r := New(Options{}) // addresses allowed: count only secret/PII-looking hits
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		lines, changed := 0, 0
		var examples []string
		for sc.Scan() {
			lines++
			in := sc.Text()
			if out := r.Redact(in); out != in {
				changed++
				if len(examples) < 3 {
					examples = append(examples, out)
				}
			}
		}
		fh.Close()
		if float64(changed) > 0.01*float64(lines) {
			t.Errorf("%s: %d of %d lines changed, e.g. %q", filepath.Base(f), changed, lines, examples)
		}
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{"AKIAIOSFODNN7EXAMPLE", "password=x", "a@b.co", "4111 1111 1111 1111", "::1", "DE89 3704 0044 0532 0130 00", "+1 415 555 0100", "-----BEGIN PRIVATE KEY-----"} {
		f.Add(s)
	}
	r := New(DefaultOptions())
	f.Fuzz(func(t *testing.T, s string) {
		out := r.Redact(s)
		// Redaction is idempotent: nothing is left to find on a second pass.
		if again := r.Redact(out); again != out {
			t.Errorf("not idempotent:\n in  %q\n out %q\n 2nd %q", s, out, again)
		}
	})
}

func TestFindNamesKindsOnce(t *testing.T) {
	r := New(DefaultOptions())
	if k := r.Find("all quiet on host web-1"); k != nil {
		t.Fatalf("clean text: got %v", k)
	}
	got := r.Find("token=ghp_abcdefghijklmnopqrstuvwxyz0123456789 mail a@b.example and c@d.example")
	if len(got) < 2 || !slices.Contains(got, Email) {
		t.Fatalf("Find = %v, want a token kind and email", got)
	}
	seen := map[Kind]bool{}
	for _, k := range got {
		if seen[k] {
			t.Fatalf("kind %s reported twice in %v", k, got)
		}
		seen[k] = true
	}
}

// A template's variable after a secret's key is a placeholder: a model
// quoting the template "password=<*>" carries no secret.
func TestTemplateWildcardIsNoSecret(t *testing.T) {
	r := New(Options{Email: true, Phone: true})
	for _, s := range []string{"login failed password=<*>", `"api_key": "<*>"`, "token=<*> expired", "password: <*>"} {
		if k := r.Find(s); len(k) != 0 {
			t.Errorf("%q: %v", s, k)
		}
	}
	if got := r.Redact("password=<*>hunter2secret"); strings.Contains(got, "hunter2secret") {
		t.Errorf("a secret glued after a wildcard was kept: %q", got)
	}
}

// Machines' own addresses (loopback, private, link-local, documentation)
// stay readable: they are the evidence of which dependency failed; an
// address on the internet is redacted, and private_ips redacts them all.
func TestInfrastructureAddressesStay(t *testing.T) {
	r := New(DefaultOptions())
	for _, ip := range []string{"127.0.0.1", "10.20.2.7", "172.16.0.9", "172.31.255.1", "192.168.1.20", "169.254.169.254", "0.0.0.0", "192.0.2.10", "198.51.100.7", "203.0.113.5"} {
		if got := r.Redact("dial tcp " + ip + ":5432: connection refused"); !strings.Contains(got, ip) {
			t.Errorf("%s redacted: %q", ip, got)
		}
	}
	for _, ip := range []string{"8.8.8.8", "81.2.69.160", "172.32.0.1", "192.169.0.1", "100.64.0.1"} {
		if got := r.Redact("client " + ip + " sent a bad request"); strings.Contains(got, ip) {
			t.Errorf("%s kept: %q", ip, got)
		}
	}
	all := New(Options{IPv4: true, PrivateIPs: true})
	if got := all.Redact("dial tcp 10.20.2.7:5432"); strings.Contains(got, "10.20.2.7") {
		t.Errorf("private_ips: %q", got)
	}
}
