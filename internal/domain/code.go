package domain

// CodeWindow is a piece of a repository file with its line numbers, read
// for an incident (internal/coderef).
type CodeWindow struct {
	Path    string `json:"path"`
	Start   int    `json:"start"`
	End     int    `json:"end"`
	Version string `json:"version"` // sha256 of the whole file, 16 hex digits
	Why     string `json:"why"`
	Text    string `json:"text"` // the lines, each "N: text"
}
