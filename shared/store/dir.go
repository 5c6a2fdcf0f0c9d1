package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// tmpPrefix names Put's temporary files, which List skips.
const tmpPrefix = ".certdrop-tmp-"

// Dir is a Store over a local directory, for the command line. A key is a
// slash-separated path below the directory; every access goes through
// os.Root, so neither a "../" key nor a symbolic link can reach outside it.
//
// Symbolic links inside the directory are followed like OSS symlinks, and
// the size cap applies to their target: certbot's live/<name>/cert.pem,
// which links to ../../archive/<name>/certN.pem, reads as a file when the
// store is opened at certbot's configuration directory (/etc/letsencrypt),
// which holds both. A link that leads outside the directory is refused,
// by choice: the directory is the boundary of what the store may read,
// and whoever can create links in it could otherwise make certdrop read
// any file its user can (opened at live/<name>/ itself, certbot's links
// lead out: List shows them, and Get says to open the store higher up).
// Only regular files are read: a FIFO or device, or a link to one, is
// refused without blocking.
type Dir struct {
	root    string
	maxSize int64
	maxList int
}

// OpenDir returns a store over the existing directory dir.
func OpenDir(dir string, opts Options) (*Dir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &Error{Op: "open", Key: dir, Err: ErrConfig, Detail: err.Error()}
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, &Error{Op: "open", Key: dir, Err: ErrConfig, Detail: "directory not accessible", cause: err}
	}
	if !fi.IsDir() {
		return nil, &Error{Op: "open", Key: dir, Err: ErrConfig, Detail: "not a directory"}
	}
	return &Dir{root: abs, maxSize: opts.maxSize(), maxList: opts.maxList()}, nil
}

// String returns the directory's path.
func (d *Dir) String() string { return d.root }

// WithMaxSize returns the store with Get's size cap set to n bytes.
func (d *Dir) WithMaxSize(n int64) Store {
	c := *d
	c.maxSize = n
	return &c
}

// dirKey checks a key names a file path inside the root: no empty, "." or
// ".." segment, no backslash or NUL, not ending in "/".
func dirKey(op, key string) error {
	if err := validKey(op, key); err != nil {
		return err
	}
	if strings.ContainsAny(key, "\\\x00") {
		return &Error{Op: op, Key: key, Err: ErrInvalidKey, Detail: "key contains a backslash or NUL"}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return &Error{Op: op, Key: key, Err: ErrInvalidKey, Detail: `key has an empty, "." or ".." path segment`}
		}
	}
	return nil
}

// fsError turns a file system error into an *Error.
func fsError(op, key string, err error) error {
	e := &Error{Op: op, Key: key, Err: err, cause: err}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.Err = ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		e.Err = ErrDenied
	case escapes(err):
		e.Err, e.Detail = ErrInvalidKey, escapeDetail
	}
	return e
}

// escapeDetail explains a refused link that leads outside the directory.
const escapeDetail = "a symbolic link leads outside the directory: open the store at a directory that holds its target too " +
	"(for certbot, its configuration directory, not live/<name>/)"

// escapes reports os.Root's "path escapes from parent" (not exported): a
// symbolic link leading outside the directory.
func escapes(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes")
}

func (d *Dir) openRoot(op, key string) (*os.Root, error) {
	r, err := os.OpenRoot(d.root)
	if err != nil {
		return nil, &Error{Op: op, Key: key, Err: ErrConfig, Detail: "directory not accessible", cause: err}
	}
	return r, nil
}

// Get reads the file at key, refusing one over the size cap before reading
// it. A symbolic link is followed if its target lies inside the directory.
func (d *Dir) Get(ctx context.Context, key string) (*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := dirKey("get", key); err != nil {
		return nil, err
	}
	r, err := d.openRoot("get", key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// Stat before opening, so that a FIFO or device is never opened.
	fi, err := r.Stat(key)
	if err != nil {
		return nil, fsError("get", key, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Op: "get", Key: key, Err: ErrNotFound, Detail: "not a regular file"}
	}
	// O_NONBLOCK: should a FIFO replace the file after the Stat, opening
	// it does not wait for a writer (and the Stat below refuses it).
	f, err := r.OpenFile(key, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fsError("get", key, err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fsError("get", key, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Op: "get", Key: key, Err: ErrNotFound, Detail: "not a regular file"}
	}
	if fi.Size() > d.maxSize {
		return nil, &Error{Op: "get", Key: key, Err: ErrTooLarge, Detail: fmt.Sprintf("file is %d bytes, over the %d-byte cap", fi.Size(), d.maxSize)}
	}
	data, err := io.ReadAll(io.LimitReader(f, d.maxSize+1))
	if err != nil {
		return nil, fsError("get", key, err)
	}
	if int64(len(data)) > d.maxSize {
		return nil, &Error{Op: "get", Key: key, Err: ErrTooLarge, Detail: fmt.Sprintf("file grew over the %d-byte cap while being read", d.maxSize)}
	}
	obj := &Object{ObjectInfo: ObjectInfo{Key: key, Size: int64(len(data)), LastModified: fi.ModTime()}, Data: data}
	if li, err := r.Lstat(key); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		obj.Symlink = true
		if link, err := r.Readlink(key); err == nil && !path.IsAbs(link) {
			t := path.Join(path.Dir(key), filepath.ToSlash(link))
			if t != ".." && !strings.HasPrefix(t, "../") {
				obj.Target = t
			}
		}
	}
	return obj, nil
}

// List returns the files (and symbolic links to files inside the
// directory) whose key starts with prefix, in key order. A symbolic link
// that leads outside the directory is listed too, with size 0, so that it
// is not missed silently; Get refuses it. Directories are
// not listed; a symbolic link to a directory is not descended into.
func (d *Dir) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := "."
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = prefix[:i]
		if err := dirKey("list", start); err != nil {
			return nil, &Error{Op: "list", Key: prefix, Err: ErrInvalidKey, Detail: `prefix has an empty, "." or ".." path segment`}
		}
	}
	r, err := d.openRoot("list", prefix)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fsys := r.FS()
	var out []ObjectInfo
	err = fs.WalkDir(fsys, start, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if de.IsDir() {
			if p != start && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(p, prefix) || strings.HasPrefix(de.Name(), tmpPrefix) {
			return nil
		}
		fi, err := fs.Stat(fsys, p) // follows a link inside the root
		switch {
		case err != nil && de.Type()&fs.ModeSymlink != 0 && escapes(err):
			// Listed, so that it is not missed silently: Get refuses
			// it and says why.
			fi = nil
		case err != nil || !fi.Mode().IsRegular():
			return nil // dangling or special: not an object
		}
		if len(out) == d.maxList {
			return &Error{Op: "list", Key: prefix, Err: ErrTooLarge, Detail: fmt.Sprintf("more than %d objects", d.maxList)}
		}
		info := ObjectInfo{Key: p, Symlink: de.Type()&fs.ModeSymlink != 0}
		if fi != nil {
			info.Size, info.LastModified = fi.Size(), fi.ModTime()
		}
		out = append(out, info)
		return nil
	})
	if err != nil {
		var se *Error
		switch {
		case errors.As(err, &se):
			return nil, se
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return nil, err
		}
		return nil, fsError("list", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Put writes data to the file at key, creating directories as needed. It
// writes a temporary file beside it and renames it into place, so a
// reader never sees a partial file.
func (d *Dir) Put(ctx context.Context, key string, data []byte, _ string) error {
	return d.put(ctx, key, data, 0o644)
}

// PutSecret writes data as Put does, to a file only its owner can read.
func (d *Dir) PutSecret(ctx context.Context, key string, data []byte, _ string) error {
	return d.put(ctx, key, data, 0o600)
}

// Delete removes the file at key; a key that does not exist is not an
// error.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := dirKey("delete", key); err != nil {
		return err
	}
	r, err := d.openRoot("delete", key)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fsError("delete", key, err)
	}
	return nil
}

func (d *Dir) put(ctx context.Context, key string, data []byte, perm os.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := dirKey("put", key); err != nil {
		return err
	}
	r, err := d.openRoot("put", key)
	if err != nil {
		return err
	}
	defer r.Close()
	dir := path.Dir(key)
	if dir != "." {
		if err := r.MkdirAll(dir, 0o755); err != nil {
			return fsError("put", key, err)
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(dir, tmpPrefix+hex.EncodeToString(rnd[:]))
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fsError("put", key, err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = r.Remove(tmp)
		return fsError("put", key, err)
	}
	if err := r.Rename(tmp, key); err != nil {
		_ = r.Remove(tmp)
		return fsError("put", key, err)
	}
	return nil
}

var (
	_ Store        = (*Dir)(nil)
	_ SecretPutter = (*Dir)(nil)
)
