package redact

import (
	"net/netip"
	"regexp"
	"strings"
)

// Byte classes seen in a line; they gate the shaped scanners.
const (
	classDigit = 1 << iota
	classAt
	classColonPair // "::" or hex:hex, a possible IPv6 address
	classUpper
	classPlus
	classPercent
)

var byteClass = func() (t [256]int) {
	for c := '0'; c <= '9'; c++ {
		t[c] = classDigit
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = classUpper
	}
	t['@'] = classAt
	t['+'], t['('] = classPlus, classPlus
	t['%'] = classPercent
	return t
}()

// glued reports whether a match may not start at i because the text before
// it continues the same token: a word byte, or a marker left by an earlier
// pass (where the first pass saw the word byte the marker replaced, so the
// second pass must judge it the same way).
func glued(s string, i int) bool {
	if i == 0 {
		return false
	}
	if isWordByte(s[i-1]) {
		return true
	}
	return s[i-1] == ']' && afterMarker(s, i)
}

func afterMarker(s string, i int) bool {
	j := strings.LastIndex(s[:i], "[REDACTED:")
	return j >= 0 && strings.IndexByte(s[j:i], ']') == i-j-1
}

func (r *Redactor) findShaped(s string, classes int, spans []span) []span {
	if classes&classAt != 0 && r.opts.Email {
		spans = findEmails(s, spans)
	}
	if classes&classPercent != 0 && r.opts.Email && strings.Contains(s, "%40") {
		spans = findEncodedEmails(s, spans)
	}
	if classes&classColonPair != 0 && r.opts.IPv6 {
		spans = findIPv6(s, spans)
	}
	if classes&classDigit == 0 {
		return spans
	}
	if classes&classUpper != 0 {
		spans = findIBANs(s, spans)
		spans = findTwilio(s, spans)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && c != '+' && c != '(' {
			continue
		}
		if glued(s, i) || (i > 0 && (s[i-1] == '.' || (s[i-1] == '-' && c != '(' && c != '+'))) {
			continue
		}
		if c == '+' || c == '(' {
			if r.opts.Phone {
				if end := matchPhone(s, i); end > 0 {
					spans = append(spans, span{i, end, Phone})
					i = end - 1
				}
			}
			continue
		}
		if r.opts.IPv4 {
			if end := matchIPv4(s, i); end > 0 {
				if r.opts.PrivateIPs || !Infrastructure(s[i:end]) {
					spans = append(spans, span{i, end, IPv4})
				}
				i = end - 1
				continue
			}
		}
		if end := matchSSN(s, i); end > 0 {
			spans = append(spans, span{i, end, SSN})
			i = end - 1
			continue
		}
		if end := matchCard(s, i); end > 0 {
			spans = append(spans, span{i, end, CardNumber})
			i = end - 1
			continue
		}
		if r.opts.Phone {
			if end := matchPhone(s, i); end > 0 {
				spans = append(spans, span{i, end, Phone})
				i = end - 1
				continue
			}
		}
		// Skip the rest of this run of digits: matches start at a run's start.
		for i+1 < len(s) && isDigit(s[i+1]) {
			i++
		}
	}
	return spans
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
func isWordByte(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
}

// endsClean reports whether a match ending at end is not glued to more of
// the same kind of text.
func endsClean(s string, end int) bool {
	if end >= len(s) {
		return true
	}
	c := s[end]
	if isWordByte(c) {
		return false
	}
	if (c == '.' || c == '-') && end+1 < len(s) && isDigit(s[end+1]) {
		return false
	}
	return true
}

func digits(s string, i, min, max int) int {
	j := i
	for j < len(s) && j-i < max && isDigit(s[j]) {
		j++
	}
	if j-i < min || (j < len(s) && isDigit(s[j])) {
		return -1
	}
	return j
}

func matchIPv4(s string, i int) int {
	j := i
	for part := 0; part < 4; part++ {
		if part > 0 {
			if j >= len(s) || s[j] != '.' {
				return -1
			}
			j++
		}
		k := digits(s, j, 1, 3)
		if k < 0 {
			return -1
		}
		v := 0
		for _, c := range []byte(s[j:k]) {
			v = v*10 + int(c-'0')
		}
		if v > 255 || (k-j > 1 && s[j] == '0') {
			return -1
		}
		j = k
	}
	if !endsClean(s, j) {
		return -1
	}
	return j
}

func matchSSN(s string, i int) int {
	a := digits(s, i, 3, 3)
	if a < 0 || a >= len(s) || s[a] != '-' {
		return -1
	}
	b := digits(s, a+1, 2, 2)
	if b < 0 || b >= len(s) || s[b] != '-' {
		return -1
	}
	c := digits(s, b+1, 4, 4)
	if c < 0 || !endsClean(s, c) {
		return -1
	}
	area := s[i:a]
	if area == "000" || area == "666" || area[0] == '9' || s[a+1:b] == "00" || s[b+1:c] == "0000" {
		return -1
	}
	return c
}

// matchCard finds 13 to 19 digits, optionally grouped by single spaces or
// dashes, with a card network prefix and a valid Luhn check digit.
func matchCard(s string, i int) int {
	var num [19]byte
	n := 0
	j := i
	end := -1
	for j < len(s) && n < 19 {
		c := s[j]
		if isDigit(c) {
			num[n] = c - '0'
			n++
			j++
			if n >= 13 && (j >= len(s) || !isDigit(s[j])) {
				end = j
			}
			continue
		}
		if (c == ' ' || c == '-') && n > 0 && j+1 < len(s) && isDigit(s[j+1]) && isDigit(s[j-1]) {
			j++
			continue
		}
		break
	}
	if end < 0 || !endsClean(s, end) {
		return -1
	}
	// Recount the digits up to end.
	n = 0
	for k := i; k < end; k++ {
		if isDigit(s[k]) {
			n++
		}
	}
	if !cardPrefix(num[:n]) || !luhn(num[:n]) {
		return -1
	}
	return end
}

func cardPrefix(d []byte) bool {
	n := len(d)
	p2 := int(d[0])*10 + int(d[1])
	p4 := p2*100 + int(d[2])*10 + int(d[3])
	switch {
	case d[0] == 4:
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return n == 16
	case p2 == 34 || p2 == 37:
		return n == 15
	case p4 == 6011 || p2 == 65 || (p4 >= 6440 && p4 <= 6499):
		return n == 16 || n == 19
	case p2 == 35:
		return n >= 16 && n <= 19
	}
	return false
}

func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i])
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// matchPhone accepts +CC groups (E.164 with optional separators), "(NNN)
// NNN-NNNN" and "NNN-NNN-NNNN" (separators required, so bare numbers such as
// ids and counters stay).
func matchPhone(s string, i int) int {
	j := i
	if s[j] == '+' {
		k := digits(s, j+1, 1, 3)
		if k < 0 {
			return -1
		}
		// +CC then digit groups, 8..15 digits in all; the longest run of
		// groups that fits is the number.
		total := k - j - 1
		j = k
		best := -1
		for j < len(s) {
			sep := j
			if s[j] == ' ' || s[j] == '-' || s[j] == '.' {
				sep = j + 1
			}
			k := digits(s, sep, 1, 15)
			if k < 0 {
				break
			}
			total += k - sep
			if total > 15 {
				break
			}
			j = k
			if total >= 8 && endsClean(s, j) {
				best = j
			}
		}
		return best
	}
	if s[j] == '(' {
		k := digits(s, j+1, 3, 3)
		if k < 0 || k >= len(s) || s[k] != ')' {
			return -1
		}
		j = k + 1
		if j < len(s) && (s[j] == ' ' || s[j] == '-' || s[j] == '.') {
			j++
		}
	} else {
		k := digits(s, j, 3, 3)
		if k < 0 || k >= len(s) || (s[k] != '-' && s[k] != '.' && s[k] != ' ') {
			return -1
		}
		j = k + 1
	}
	k := digits(s, j, 3, 3)
	if k < 0 || k >= len(s) || (s[k] != '-' && s[k] != '.' && s[k] != ' ') {
		return -1
	}
	sepA := s[k]
	m := digits(s, k+1, 4, 4)
	if m < 0 || !endsClean(s, m) {
		return -1
	}
	if s[i] != '(' && s[j-1] != sepA {
		return -1 // mixed separators: a date or version, not a phone
	}
	return m
}

// findIBANs looks for two capitals, two check digits and 11..30 more
// alphanumerics (groups of four may be space-separated), checked mod 97.
func findIBANs(s string, spans []span) []span {
	for i := 0; i+4 < len(s); i++ {
		if !(isUpper(s[i]) && isUpper(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3])) {
			continue
		}
		if glued(s, i) {
			continue
		}
		var buf [34]byte
		n := 0
		j := i
		end := -1
		for j < len(s) && n < 34 {
			c := s[j]
			if isUpper(c) || isDigit(c) {
				buf[n] = c
				n++
				j++
				if n >= 15 && (j >= len(s) || !isWordByte(s[j])) {
					end = j
				}
				continue
			}
			if c == ' ' && n%4 == 0 && j+1 < len(s) && (isUpper(s[j+1]) || isDigit(s[j+1])) {
				j++
				continue
			}
			break
		}
		if end < 0 {
			continue
		}
		m := 0
		for k := i; k < end; k++ {
			if s[k] != ' ' {
				m++
			}
		}
		if ibanValid(buf[:m]) {
			spans = append(spans, span{i, end, IBAN})
			i = end
		}
	}
	return spans
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

func ibanValid(b []byte) bool {
	if len(b) < 15 || len(b) > 34 {
		return false
	}
	rem := 0
	add := func(c byte) {
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
			return
		}
		v := int(c-'A') + 10
		rem = (rem*100 + v) % 97
	}
	for _, c := range b[4:] {
		add(c)
	}
	for _, c := range b[:4] {
		add(c)
	}
	return rem == 1
}

func findEmails(s string, spans []span) []span {
	for at := 0; at < len(s); at++ {
		if s[at] != '@' {
			continue
		}
		a := at
		for a > 0 && isEmailLocal(s[a-1]) {
			a--
		}
		if a < at && glued(s, a) {
			continue // the local part runs on from an earlier marker
		}
		b := at + 1
		dot := -1
		for b < len(s) && (isWordByte(s[b]) || s[b] == '-' || s[b] == '.') {
			if s[b] == '.' {
				dot = b
			}
			b++
		}
		for b > at+1 && s[b-1] == '.' {
			b--
		}
		if a == at || dot < 0 || dot >= b-2 || dot == at+1 {
			continue
		}
		tld := s[dot+1 : b]
		ok := len(tld) >= 2
		for i := 0; i < len(tld); i++ {
			c := tld[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				ok = false
			}
		}
		if ok {
			spans = append(spans, span{a, b, Email})
			at = b
		}
	}
	return spans
}

// findTwilio finds Twilio API key SIDs: SK and 32 lower-case hex digits.
func findTwilio(s string, spans []span) []span {
	for i := 0; ; {
		j := strings.Index(s[i:], "SK")
		if j < 0 {
			return spans
		}
		a := i + j
		b := a + 2
		for b < len(s) && b-a < 34 && (isDigit(s[b]) || s[b] >= 'a' && s[b] <= 'f') {
			b++
		}
		if b-a == 34 && (a == 0 || !isWordByte(s[a-1])) && (b == len(s) || !isWordByte(s[b])) {
			spans = append(spans, span{a, b, TwilioKey})
		}
		i = a + 2
	}
}

// findEncodedEmails finds addresses whose @ is percent-encoded (%40), as
// in a query string.
func findEncodedEmails(s string, spans []span) []span {
	for _, m := range encodedEmail.FindAllStringIndex(s, -1) {
		spans = append(spans, span{m[0], m[1], Email})
	}
	return spans
}

var encodedEmail = regexp.MustCompile(`[A-Za-z0-9._+-]+%40[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)

func isEmailLocal(c byte) bool {
	return isWordByte(c) || c == '.' || c == '%' || c == '+' || c == '-'
}

func findIPv6(s string, spans []span) []span {
	for i := 0; i < len(s); i++ {
		if !(isHex(s[i]) || s[i] == ':') || glued(s, i) || (i > 0 && (s[i-1] == ':' || s[i-1] == '.')) {
			continue
		}
		j := i
		colons := 0
		for j < len(s) && (isHex(s[j]) || s[j] == ':' || s[j] == '.') {
			if s[j] == ':' {
				colons++
			}
			j++
		}
		end := j
		for end > i && s[end-1] == '.' {
			end--
		}
		if colons >= 2 && end-i > colons && (end >= len(s) || !isWordByte(s[end])) {
			cand := s[i:end]
			// A trailing ":port" or ":" is not part of the address.
			if a, err := netip.ParseAddr(cand); err == nil && a.Is6() && (colons == 7 || hasDoubleColon(cand)) {
				spans = append(spans, span{i, end, IPv6})
			}
		}
		i = j
	}
	return spans
}

func hasDoubleColon(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == ':' && s[i+1] == ':' {
			return true
		}
	}
	return false
}

// Infrastructure reports an IPv4 address that names a machine, not a
// person: loopback (127/8), the unspecified address, private networks
// (10/8, 172.16/12, 192.168/16), link-local (169.254/16) and the
// documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24). A
// service's database at 10.20.2.7:5432 is evidence an SRE needs;
// addresses on the internet (a client's) stay redacted. docs/SECURITY.md
// records the choice; redact.private_ips redacts these too.
func Infrastructure(ip string) bool {
	var o [4]int
	part := 0
	for i := 0; i < len(ip) && part < 4; i++ {
		c := ip[i]
		if c == '.' {
			part++
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
		o[part] = o[part]*10 + int(c-'0')
	}
	switch {
	case o[0] == 127, o[0] == 10, o == [4]int{}:
		return true
	case o[0] == 172 && o[1] >= 16 && o[1] <= 31, o[0] == 192 && o[1] == 168, o[0] == 169 && o[1] == 254:
		return true
	case o[0] == 192 && o[1] == 0 && o[2] == 2, o[0] == 198 && o[1] == 51 && o[2] == 100, o[0] == 203 && o[1] == 0 && o[2] == 113:
		return true
	}
	return false
}
