// Package redact replaces secrets and personal data in log text with
// [REDACTED:<kind>] markers before the text is stored, printed or sent.
//
// Clean lines must stay cheap: one pass over the line finds which rules could
// match at all (a keyword automaton plus a few byte classes), and only those
// rules run. Digit-shaped data (IP addresses, card numbers, SSNs, phones,
// IBANs) is matched by small scanners rather than regular expressions because
// almost every log line carries digits.
package redact
