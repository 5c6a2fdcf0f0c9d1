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
	width    int // the terminal's width, 0 when unknown

	mu       sync.Mutex
	lastDraw time.Duration // the Elapsed of the last drawn snapshot
	lastTent int
	drawn    bool
}

// NewProgress writes progress to w, as a bar when terminal is true, fitted
// to the terminal's width.
func NewProgress(w io.Writer, terminal bool) *Progress {
	return &Progress{w: w, terminal: terminal, width: TerminalWidth(w)}
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
		fmt.Fprintf(p.w, "\r%s", bar(s, p.width))
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

// bar draws the progress bar and its figures in at most width-1 columns
// (width 0: no limit): the bar shrinks first, then goes.
func bar(s fanout.Progress, width int) string {
	figures := fmt.Sprintf(" %d/%d  %.1f/s  throttled %d ", s.Done, s.Total, rate(s), s.Throttled)
	barWidth := 30
	if width > 0 {
		barWidth = min(barWidth, width-1-len(figures)-2)
		if barWidth < 5 {
			return strings.TrimPrefix(cut(figures, width-1), " ")
		}
	}
	filled := 0
	if s.Total > 0 {
		filled = s.Done * barWidth / s.Total
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", barWidth-filled) + "]" + figures
}
