package domain

// Finding is one instruction-like pattern found in log text or a model's
// answer (internal/injection).
type Finding struct {
	Rule    string `json:"rule"`
	Excerpt string `json:"excerpt"`
}
