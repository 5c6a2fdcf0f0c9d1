package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/certdrop/certdrop/shared/bundle"
)

// readBundleSources reads the files named on the command line. A directory
// stands for the bundle parts directly in it (by bundle.IsPartName), as an
// acme.sh or certbot folder holds them. Files are read through a size cap so
// that a wrong path never pulls a huge file into memory.
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
			if e.Type().IsRegular() && bundle.IsPartName(e.Name()) {
				names = append(names, e.Name())
			}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: no .pem, .crt, .cer or .key files in this folder", p)
		}
		if len(names) > bundle.MaxParts {
			return nil, fmt.Errorf("%s: %d certificate files, more than the %d a bundle folder may hold", p, len(names), bundle.MaxParts)
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

func readCapped(path string) (bundle.Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return bundle.Source{}, err
	}
	defer f.Close()
	// One byte over the cap is enough for bundle.Parse to refuse it.
	data, err := io.ReadAll(io.LimitReader(f, bundle.DefaultMaxSize+1))
	if err != nil {
		return bundle.Source{}, fmt.Errorf("%s: %w", path, err)
	}
	return bundle.Source{Name: path, Data: data}, nil
}
