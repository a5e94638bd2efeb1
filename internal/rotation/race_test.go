//go:build race

package rotation_test

// raceEnabled: the race detector slows the property test's runs about
// twentyfold, so that it runs fewer schedules by default (see
// defaultSchedules).
const raceEnabled = true
