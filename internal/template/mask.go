package template

// Wildcard stands for a variable part of a message.
const Wildcard = "<*>"

// mask reports how a raw token templates: not variable (kept as is), or
// variable after keep bytes ("uid=0" keeps "uid=" and masks the rest; keep 0
// masks it all).
func mask(tok string) (keep int, variable bool) {
	if tok == Wildcard {
		return 0, true
	}
	digit := -1
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c >= '0' && c <= '9' {
			digit = i
			break
		}
	}
	if digit < 0 {
		return 0, looksVariableWord(tok)
	}
	// key=value or key:value with a constant key.
	for i := 1; i < digit; i++ {
		if c := tok[i]; c == '=' || (c == ':' && i+1 < len(tok) && tok[i+1] != '/') {
			return i + 1, true
		}
	}
	return 0, true
}

// looksVariableWord catches digit-free variables: absolute paths, URLs,
// emails and long hex strings.
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
	raw      string
	keep     int
	variable bool
}

func newMaskedToken(raw string) maskedToken {
	keep, variable := mask(raw)
	return maskedToken{raw: raw, keep: keep, variable: variable}
}

// matches compares a template token with the line token under masking.
func (t maskedToken) matches(tmpl string) bool {
	if !t.variable {
		return tmpl == t.raw
	}
	return len(tmpl) == t.keep+len(Wildcard) && tmpl[:t.keep] == t.raw[:t.keep] && tmpl[t.keep:] == Wildcard
}

// template returns the template form of the token.
func (t maskedToken) template() string {
	switch {
	case !t.variable:
		return t.raw
	case t.keep == 0:
		return Wildcard
	}
	return t.raw[:t.keep] + Wildcard
}
