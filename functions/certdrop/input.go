package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/manifest"
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

// loadManifest reads the manifest a renewal, a rollback or a prune works
// on: a file or oss://bucket/key, $CERTDROP_MANIFEST by default.
func loadManifest(ctx context.Context, c *cli, name, loc string) (*manifest.Manifest, int) {
	if loc == "" {
		return nil, usageError(c, name, "name the manifest with --manifest (or CERTDROP_MANIFEST)")
	}
	data, err := readLocation(ctx, c, loc)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop %s: the manifest: %v\n", name, err)
		return nil, exitUsage
	}
	m, err := manifest.Parse(loc, data, products().Catalog())
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop %s: %v\n", name, err)
		return nil, exitUsage
	}
	return m, exitOK
}

// bundleInput is the bundles and manifest a plan or deploy starts from,
// each bundle validated under the manifest's defaults.
type bundleInput struct {
	// bundles are the valid bundles the files form: one for a certbot or
	// acme.sh folder, one per domain for lego's certificates/ folder.
	bundles []*bundle.Bundle
	// problems say what formed no valid bundle (a bundle that failed
	// validation, a file rejected, a key or certificate without its other
	// half), one line each; warnings are the rest a person should know.
	problems []string
	warnings []string
	manifest *manifest.Manifest
}

// loadInput reads the manifest and the files, splits the files into
// bundles and validates each. An error is bad input (the caller exits with
// exitUsage and calls nothing): no valid bundle at all, or, for files that
// form one bundle, anything wrong with it. Files that form
// several bundles give every valid one, and problems for the rest.
func loadInput(ctx context.Context, files []string, manifestPath, rootsPath string) (*bundleInput, error) {
	m, err := manifest.Load(manifestPath, products().Catalog())
	if err != nil {
		return nil, err
	}
	opts := m.Defaults.BundleOptions()
	if rootsPath != "" {
		if opts.Roots, err = bundle.LoadRoots(rootsPath); err != nil {
			return nil, err
		}
	}
	srcs, err := readBundleSources(files)
	if err != nil {
		return nil, err
	}
	f, err := bundle.Split(ctx, srcs, opts)
	if err != nil {
		return nil, fmt.Errorf("invalid bundle: %w", err)
	}
	in := &bundleInput{manifest: m, warnings: f.Warnings}
	for _, e := range f.Rejected {
		kind := "invalid bundle"
		if bundle.IsIncomplete(e) {
			kind = "incomplete bundle"
		}
		in.problems = append(in.problems, kind+": "+e.Error())
	}
	if len(f.Bundles) == 0 {
		// Parse says best what one bundle lacks, unless the files hold
		// several keys.
		if _, err := bundle.Parse(srcs, opts); err != nil && !errors.Is(err, bundle.ErrMultipleKeys) {
			return nil, fmt.Errorf("invalid bundle: %w", err)
		}
		return nil, errors.New(strings.Join(in.problems, "\n"))
	}
	one := len(f.Bundles) == 1 && len(f.Rejected) == 0
	for _, b := range f.Bundles {
		if err := b.Validate(opts); err != nil {
			if one {
				return nil, fmt.Errorf("invalid bundle: %w", err)
			}
			in.problems = append(in.problems, fmt.Sprintf("invalid bundle (%s): %v", strings.Join(b.Sources, ", "), err))
			continue
		}
		in.bundles = append(in.bundles, b)
	}
	if len(in.bundles) == 0 {
		return nil, errors.New(strings.Join(in.problems, "\n"))
	}
	return in, nil
}
