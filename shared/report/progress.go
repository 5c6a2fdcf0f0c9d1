package report

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/fanout"
)

// Progress shows a run's progress: on a terminal, a bar redrawn in place
// (done/total, rate, throttled count); elsewhere, a plain line every tenth
// of the run or every five seconds of the run's time, whichever comes first. It is safe for
// concurrent use; pass its Update as fanout.Options.Progress.
type Progress struct {
	w        io.Writer
	terminal bool

	mu       sync.Mutex
	lastDraw time.Duration // the Elapsed of the last drawn snapshot
	lastTent int
	drawn    bool
}

// NewProgress writes progress to w, as a bar when terminal is true.
func NewProgress(w io.Writer, terminal bool) *Progress {
	return &Progress{w: w, terminal: terminal}
}

// Update records a progress snapshot and redraws when due.
func (p *Progress) Update(s fanout.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	final := s.Done == s.Total
	first := !p.drawn && p.lastDraw == 0
	if p.terminal {
		if !final && !first && s.Elapsed-p.lastDraw < 100*time.Millisecond {
			return
		}
		fmt.Fprintf(p.w, "\r%s", bar(s))
	} else {
		tenth := 0
		if s.Total > 0 {
			tenth = s.Done * 10 / s.Total
		}
		if !final && !first && tenth == p.lastTent && s.Elapsed-p.lastDraw < 5*time.Second {
			return
		}
		p.lastTent = tenth
		fmt.Fprintf(p.w, "progress: %d/%d targets, %.1f/s, %d throttled, %s\n",
			s.Done, s.Total, rate(s), s.Throttled, s.Elapsed.Round(time.Millisecond))
	}
	p.lastDraw = s.Elapsed
	p.drawn = true
}

// Finish ends the bar's line so that later output starts on a new one.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal && p.drawn {
		fmt.Fprintln(p.w)
	}
}

func rate(s fanout.Progress) float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Done) / s.Elapsed.Seconds()
}

func bar(s fanout.Progress) string {
	const width = 30
	filled := 0
	if s.Total > 0 {
		filled = s.Done * width / s.Total
	}
	return fmt.Sprintf("[%s%s] %d/%d  %.1f/s  throttled %d ",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), s.Done, s.Total, rate(s), s.Throttled)
}
