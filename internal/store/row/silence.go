package row

import (
	"encoding/json"
	"fmt"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// ScanJSON reads rows of one JSON body column into a list of T.
func ScanJSON[T any](what string, rows Rows) ([]T, error) {
	var out []T
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// EncodeSilence is a silence's body column; it must have an id and a
// matcher.
func EncodeSilence(s domain.Silence) (string, error) {
	if s.ID == "" || len(s.Matchers) == 0 {
		return "", fmt.Errorf("silence %q: an id and at least one matcher are required", s.ID)
	}
	b, err := json.Marshal(s)
	return string(b), err
}
