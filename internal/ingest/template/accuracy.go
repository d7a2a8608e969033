package template

// GroupingAccuracy is GA from Zhu et al. (ICSE-SEIP 2019): a line is
// correct when the set of lines in its parsed group equals the set of
// lines sharing its ground-truth event. truth and parsed name each line's
// event and group.
func GroupingAccuracy[T, P comparable](truth []T, parsed []P) float64 {
	if len(truth) == 0 {
		return 0
	}
	truthSize := map[T]int{}
	for _, t := range truth {
		truthSize[t]++
	}
	parsedGroups := map[P][]int{}
	for i, p := range parsed {
		parsedGroups[p] = append(parsedGroups[p], i)
	}
	correct := 0
	for _, lines := range parsedGroups {
		t := truth[lines[0]]
		if truthSize[t] != len(lines) {
			continue
		}
		same := true
		for _, l := range lines {
			if truth[l] != t {
				same = false
				break
			}
		}
		if same {
			correct += len(lines)
		}
	}
	return float64(correct) / float64(len(truth))
}
