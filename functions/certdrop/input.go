package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/certdrop/certdrop/shared/bundle"
)

// readBundleSources reads the files named on the command line. A directory
// stands for the bundle parts directly in it (by bundle.IsPartName), as an
// acme.sh, certbot or lego folder holds them. Symbolic links are followed,
// wherever they lead (certbot's live/<name>/ files link into
// ../../archive/<name>/): the user named these files. Only regular files
// are read, each through the size cap, so that a wrong path or a link to a
// device or a FIFO is refused at once instead of read forever.
func readBundleSources(paths []string) ([]bundle.Source, error) {
	var srcs []bundle.Source
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			s, err := readCapped(p)
			if err != nil {
				return nil, err
			}
			srcs = append(srcs, s)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range entries {
			if !bundle.IsPartName(e.Name()) {
				continue
			}
			if e.Type()&os.ModeSymlink != 0 {
				// Decide by the target: a link to a file is read, a link
				// to a directory is not a part, a dangling link is an
				// error (a certbot folder whose archive/ is gone).
				t, err := os.Stat(filepath.Join(p, e.Name()))
				if err != nil {
					return nil, fmt.Errorf("%s: a symbolic link that cannot be followed: %w", filepath.Join(p, e.Name()), err)
				}
				if t.IsDir() {
					continue
				}
			} else if e.IsDir() {
				continue
			}
			names = append(names, e.Name())
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: no .pem, .crt, .cer or .key files in this folder", p)
		}
		if len(names) > bundle.MaxParts {
			return nil, fmt.Errorf("%s: %d certificate files, more than the %d a certificate folder may hold", p, len(names), bundle.MaxParts)
		}
		sort.Strings(names)
		for _, n := range names {
			s, err := readCapped(filepath.Join(p, n))
			if err != nil {
				return nil, err
			}
			srcs = append(srcs, s)
		}
	}
	return srcs, nil
}

// readCapped reads one regular file (following symbolic links) of at most
// bundle.DefaultMaxSize bytes. It opens without blocking, so that a FIFO
// (or a link to one) cannot hang it, and checks what it opened before
// reading: anything but a regular file is refused.
func readCapped(path string) (bundle.Source, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return bundle.Source{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return bundle.Source{}, fmt.Errorf("%s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return bundle.Source{}, fmt.Errorf("%s: not a regular file (%s): a bundle part is a file", path, fi.Mode().Type())
	}
	if fi.Size() > bundle.DefaultMaxSize {
		return bundle.Source{}, fmt.Errorf("%s: %d bytes, over the %d-byte cap of a bundle: not a certificate file", path, fi.Size(), bundle.DefaultMaxSize)
	}
	// One byte over the cap is enough for bundle.Parse to refuse a file
	// that grew while being read.
	data, err := io.ReadAll(io.LimitReader(f, bundle.DefaultMaxSize+1))
	if err != nil {
		return bundle.Source{}, fmt.Errorf("%s: %w", path, err)
	}
	return bundle.Source{Name: path, Data: data}, nil
}
