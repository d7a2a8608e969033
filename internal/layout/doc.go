// Package layout holds no code: its test holds the tree to its import
// rules (docs/ARCHITECTURE.md), so a shortcut through the layers fails CI
// rather than a review.
package layout
