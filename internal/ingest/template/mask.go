package template

import "strings"

// Wildcard stands for a variable part of a message.
const Wildcard = "<*>"

// A token (a run of non-space bytes) is masked by segments: punctuation
// that structures a token ("key=value", "a,b", "f(x)", "[x]", "k:v")
// splits it, and each segment holding a digit is variable, so
// "ready=true,policy=3" templates as "ready=true,policy=<*>". A whole token
// that is an absolute path, a URL, an email or a long hex string is one
// variable. A redaction marker is one variable segment. Nothing here knows
// any particular log format but one: an access log's quoted request line
// and the status after it keep the method and the status class (below),
// since that one shape carries its event's kind inside a quoted value.

// isDelim reports the bytes that split a token into segments.
func isDelim(c byte) bool {
	switch c {
	case '=', ':', ',', ';', '(', ')', '[', ']', '{', '}', '|', '"', '\'', '<', '>':
		return true
	}
	return false
}

// segmentVariable reports whether a segment (no delimiters) is variable:
// a number, an identifier with digits.
func segmentVariable(s string) bool {
	digits, letters := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
		}
	}
	if digits == 0 {
		return false
	}
	if digits >= letters || s[0] >= '0' && s[0] <= '9' {
		return true
	}
	// A compound ("R02-M1-N0-C", "blk_38", "v1.2") is an identifier; a
	// word with a few digits and no separator ("eth0", "md5") is a name.
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '-', '_', '.', '~', '/', '#', '+':
			return true
		}
	}
	return false
}

// looksVariableWord catches digit-free variables that span a whole token:
// absolute paths, URLs, emails and long hex strings.
func looksVariableWord(tok string) bool {
	if len(tok) < 2 {
		return false
	}
	slashes, hex := 0, 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c == '/':
			slashes++
		case c == '@' && i > 0 && i < len(tok)-3:
			return true
		case c >= 'a' && c <= 'f':
			hex++
		}
	}
	if tok[0] == '/' && slashes >= 2 {
		return true
	}
	if slashes >= 2 {
		for i := 0; i+2 < len(tok); i++ {
			if tok[i] == ':' && tok[i+1] == '/' && tok[i+2] == '/' {
				return true
			}
		}
	}
	return hex == len(tok) && len(tok) >= 16
}

// maskedToken is a raw token with its masking worked out once per line.
type maskedToken struct {
	raw string
	// whole: the token is one variable.
	whole bool
	// partial: some segments are variable (whole is false).
	partial bool
	// hash of the masked form, for group keys without building it.
	hash uint64
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// wildcardHash is the hash of a token that is variable as a whole.
var wildcardHash = hashString(fnvOffset, Wildcard)

func newMaskedToken(raw string) maskedToken {
	t := maskedToken{raw: raw}
	if raw == Wildcard || markerLen(raw) == len(raw) || looksVariableWord(raw) {
		t.whole = true
		t.hash = hashString(fnvOffset, Wildcard)
		return t
	}
	h := uint64(fnvOffset)
	segs, vars := 0, 0
	it := newSegments(raw)
	for {
		seg, delim, variable, ok := it.next()
		if !ok {
			break
		}
		switch {
		case delim != 0:
			h = (h ^ uint64(delim)) * fnvPrime
		case variable:
			segs++
			vars++
			h = hashString(h, Wildcard)
		default:
			segs++
			h = hashString(h, seg)
		}
	}
	switch {
	case vars == 0:
	case vars == segs && segs == 1 && !hasDelim(raw):
		t.whole = true
		h = hashString(fnvOffset, Wildcard)
	default:
		t.partial = true
	}
	t.hash = h
	return t
}

func hasDelim(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDelim(s[i]) {
			return true
		}
	}
	return false
}

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

// variable reports whether any part of the token is variable.
func (t maskedToken) variable() bool { return t.whole || t.partial }

// matches compares a template token with the line token's masked form,
// without building it.
func (t maskedToken) matches(tmpl string) bool {
	switch {
	case t.whole:
		return tmpl == Wildcard
	case !t.partial:
		return tmpl == t.raw
	}
	j := 0
	it := newSegments(t.raw)
	for {
		seg, delim, variable, ok := it.next()
		if !ok {
			return j == len(tmpl)
		}
		switch {
		case delim != 0:
			if j >= len(tmpl) || tmpl[j] != delim {
				return false
			}
			j++
		case variable:
			if !strings.HasPrefix(tmpl[j:], Wildcard) {
				return false
			}
			j += len(Wildcard)
		default:
			if !strings.HasPrefix(tmpl[j:], seg) {
				return false
			}
			j += len(seg)
		}
	}
}

// template returns the template form of the token (it allocates when part
// of the token is masked; only new templates need it).
func (t maskedToken) template() string {
	switch {
	case t.whole:
		return Wildcard
	case !t.partial:
		return t.raw
	}
	out := make([]byte, 0, len(t.raw)+8)
	it := newSegments(t.raw)
	for {
		seg, delim, variable, ok := it.next()
		switch {
		case !ok:
			return string(out)
		case delim != 0:
			out = append(out, delim)
		case variable:
			out = append(out, Wildcard...)
		default:
			out = append(out, seg...)
		}
	}
}

// templateTokenHash hashes a template token the way newMaskedToken hashes
// the line tokens it matches, so a restored template lands in the group
// its lines will look in.
func templateTokenHash(t string) uint64 {
	if t == Wildcard {
		return hashString(fnvOffset, Wildcard)
	}
	h := uint64(fnvOffset)
	it := templateSegments{s: t}
	for {
		seg, delim, variable, ok := it.next()
		switch {
		case !ok:
			return h
		case delim != 0:
			h = (h ^ uint64(delim)) * fnvPrime
		case variable:
			h = hashString(h, Wildcard)
		default:
			h = hashString(h, seg)
		}
	}
}

// An access log's request line and status keep what tells requests apart:
// `"GET /cart/12 HTTP/1.1" 503` templates as `"GET <*> HTTP/1.1" 5xx`, so
// a service's failing requests are not one group with its successful ones.

// isRequestLine matches a quoted request line: "METHOD target HTTP/x".
func isRequestLine(tok string) bool {
	if len(tok) < 16 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return false
	}
	sp := strings.IndexByte(tok, ' ')
	if sp < 4 || sp > 9 {
		return false
	}
	for i := 1; i < sp; i++ {
		if tok[i] < 'A' || tok[i] > 'Z' {
			return false
		}
	}
	last := strings.LastIndexByte(tok, ' ')
	return last > sp && strings.HasPrefix(tok[last+1:], "HTTP/")
}

// requestToken keeps the method and protocol; the target is a variable.
func requestToken(tok string) maskedToken {
	sp, last := strings.IndexByte(tok, ' '), strings.LastIndexByte(tok, ' ')
	masked := tok[:sp+1] + Wildcard + tok[last:]
	return maskedToken{raw: masked, hash: templateTokenHash(masked)}
}

// isStatus: a three-digit HTTP status.
func isStatus(tok string) bool {
	return len(tok) == 3 && tok[0] >= '1' && tok[0] <= '5' && tok[1] >= '0' && tok[1] <= '9' && tok[2] >= '0' && tok[2] <= '9'
}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// statusToken keeps the status class.
func statusToken(tok string) maskedToken {
	c := statusClasses[tok[0]-'1']
	return maskedToken{raw: c, hash: templateTokenHash(c)}
}
