package redact

// keywordSet is an Aho-Corasick automaton over ASCII-lowercased bytes. One
// pass over a line reports which rules' keywords occur, as a bit set of
// rules; the rules none of whose keywords is present are skipped.
type keywordSet struct {
	next [][256]uint16
	out  []uint64 // bit set of the rules whose keywords end at each state
}

// newKeywordSet builds the automaton; rules[i] is the bit set of the rules
// words[i] triggers.
func newKeywordSet(words []string, rules []uint64) *keywordSet {
	k := &keywordSet{next: make([][256]uint16, 1), out: make([]uint64, 1)}
	for i, w := range words {
		s := 0
		for j := 0; j < len(w); j++ {
			c := lower(w[j])
			if k.next[s][c] == 0 {
				k.next = append(k.next, [256]uint16{})
				k.out = append(k.out, 0)
				k.next[s][c] = uint16(len(k.next) - 1)
			}
			s = int(k.next[s][c])
		}
		k.out[s] |= rules[i]
	}
	// Breadth-first pass turns the trie into a full transition table.
	fail := make([]int, len(k.next))
	queue := make([]int, 0, len(k.next))
	for c := 0; c < 256; c++ {
		if t := k.next[0][c]; t != 0 {
			queue = append(queue, int(t))
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		k.out[s] |= k.out[fail[s]]
		for c := 0; c < 256; c++ {
			t := int(k.next[s][c])
			if t != 0 {
				fail[t] = int(k.next[fail[s]][c])
				queue = append(queue, t)
			} else {
				k.next[s][c] = k.next[fail[s]][c]
			}
		}
	}
	return k
}

// scan returns the set of keywords found in s, case-insensitively, and the
// byte classes (see shaped.go) of s, in one pass.
func (k *keywordSet) scan(s string) (found uint64, classes int) {
	st := uint16(0)
	next, out := k.next, k.out
	hexColons := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		st = next[st][lower(c)]
		found |= out[st]
		classes |= byteClass[c]
		// An IPv6 address has "::" or six or seven colons between hex digits;
		// a clock time ("16:13:38") has neither.
		if c == ':' && i+1 < len(s) {
			switch {
			case s[i+1] == ':':
				classes |= classColonPair
			case i > 0 && isHex(s[i-1]) && isHex(s[i+1]):
				hexColons++
			}
		}
	}
	if hexColons >= 6 { // six with an embedded IPv4 address
		classes |= classColonPair
	}
	return found, classes
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
