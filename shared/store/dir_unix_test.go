//go:build unix

package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/certdrop/certdrop/shared/store"
)

// TestDirRefusesSpecialFiles: a FIFO, a link to one, and a link to a
// device are refused at once, never opened for reading (a FIFO would block
// until a writer came, /dev/zero would never end).
func TestDirRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.pem"), 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	if err := os.Symlink("fifo.pem", filepath.Join(dir, "tofifo.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.pem")); err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenDir(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for key, want := range map[string]error{"fifo.pem": store.ErrNotFound, "tofifo.pem": store.ErrNotFound, "zero.pem": store.ErrInvalidKey} {
		if obj, err := s.Get(ctx, key); obj != nil || !errors.Is(err, want) {
			t.Errorf("Get(%s) = %v, %v; want %v", key, obj, err, want)
		}
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range list {
		if in.Key == "fifo.pem" || in.Key == "tofifo.pem" {
			t.Errorf("List shows a FIFO: %+v", in)
		}
	}
}
