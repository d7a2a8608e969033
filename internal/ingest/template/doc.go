// Package template mines log templates online, in the manner of Drain (He et
// al., ICWS 2017): a message is split into tokens, variable-looking tokens
// are masked by generic classes (anything with a digit, paths, URLs,
// addresses, hex ids), and the line joins the most similar template of the
// same length and first token, or starts a new one. Where a line and its
// template differ, the template generalises to <*>.
//
// Memory is bounded: past MaxTemplates the least recently used template is
// dropped. A template's id is a hash of its text, so the same text has the
// same id in every run.
package template
