package cloudsim

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// crc64Table is the CRC-64/ECMA table OSS reports in x-oss-hash-crc64ecma
// and the Go SDK checks uploads against.
var crc64Table = crc64.MakeTable(crc64.ECMA)

// ossObject is one stored object or symlink.
type ossObject struct {
	Key          string            `json:"key"`
	Data         []byte            `json:"data,omitempty"`
	ContentType  string            `json:"contentType,omitempty"`
	ETag         string            `json:"etag"` // uppercase hex MD5, unquoted
	CRC64        uint64            `json:"crc64"`
	LastModified time.Time         `json:"lastModified"`
	Meta         map[string]string `json:"meta,omitempty"` // x-oss-meta-* headers, lowercase names
	// SymlinkTarget is set for a symlink: the key it points to.
	SymlinkTarget string `json:"symlinkTarget,omitempty"`
}

// objectType is the x-oss-object-type / <Type> of the object.
func (ob *ossObject) objectType() string {
	if ob.SymlinkTarget != "" {
		return "Symlink"
	}
	return "Normal"
}

// newOSSObject builds an object for data, computing its ETag and CRC.
func newOSSObject(key string, data []byte, contentType string, modified time.Time) *ossObject {
	sum := md5.Sum(data)
	return &ossObject{
		Key:          key,
		Data:         data,
		ContentType:  contentType,
		ETag:         strings.ToUpper(hex.EncodeToString(sum[:])),
		CRC64:        crc64.Checksum(data, crc64Table),
		LastModified: modified.UTC().Truncate(time.Second),
	}
}

// ossStore holds buckets and objects in memory and, with a data
// directory, writes every change through to disk.
type ossStore struct {
	dir     string
	mu      sync.RWMutex
	buckets map[string]map[string]*ossObject
}

func newOSSStore(dir string) (*ossStore, error) {
	s := &ossStore{dir: dir, buckets: map[string]map[string]*ossObject{}}
	if dir == "" {
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cloudsim: oss data dir: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cloudsim: oss data dir: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !bucketName.MatchString(e.Name()) {
			continue
		}
		objs := map[string]*ossObject{}
		files, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("cloudsim: oss data dir: %w", err)
		}
		for _, f := range files {
			if f.IsDir() || !strings.HasSuffix(f.Name(), ".json") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name(), f.Name()))
			if err != nil {
				return nil, fmt.Errorf("cloudsim: oss data dir: %w", err)
			}
			var ob ossObject
			if err := json.Unmarshal(b, &ob); err != nil {
				return nil, fmt.Errorf("cloudsim: oss data dir: %s/%s: %w", e.Name(), f.Name(), err)
			}
			objs[ob.Key] = &ob
		}
		s.buckets[e.Name()] = objs
	}
	return s, nil
}

// objectFile is where an object of bucket is persisted: the SHA-256 of the
// key names the file, so that any key (slashes, "..", 1023 bytes) is safe.
func (s *ossStore) objectFile(bucket, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.dir, bucket, hex.EncodeToString(sum[:])+".json")
}

func (s *ossStore) createBucket(bucket string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[bucket]; ok {
		return nil
	}
	if s.dir != "" {
		if err := os.MkdirAll(filepath.Join(s.dir, bucket), 0o755); err != nil {
			return fmt.Errorf("cloudsim: oss create bucket: %w", err)
		}
	}
	s.buckets[bucket] = map[string]*ossObject{}
	return nil
}

func (s *ossStore) hasBucket(bucket string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.buckets[bucket]
	return ok
}

// errNoBucket is returned by store operations on a missing bucket.
var errNoBucket = errors.New("no such bucket")

// get returns the object stored under key (nil when absent).
func (s *ossStore) get(bucket, key string) (*ossObject, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	objs, ok := s.buckets[bucket]
	if !ok {
		return nil, errNoBucket
	}
	return objs[key], nil
}

// put stores ob, returning the object it replaced (nil when new).
func (s *ossStore) put(bucket string, ob *ossObject) (*ossObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	objs, ok := s.buckets[bucket]
	if !ok {
		return nil, errNoBucket
	}
	if s.dir != "" {
		b, err := json.Marshal(ob)
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(s.objectFile(bucket, ob.Key), b); err != nil {
			return nil, fmt.Errorf("cloudsim: oss persist: %w", err)
		}
	}
	old := objs[ob.Key]
	objs[ob.Key] = ob
	return old, nil
}

// remove deletes key; deleting a missing key is not an error, as in OSS.
func (s *ossStore) remove(bucket, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	objs, ok := s.buckets[bucket]
	if !ok {
		return errNoBucket
	}
	if s.dir != "" {
		if err := os.Remove(s.objectFile(bucket, key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cloudsim: oss persist: %w", err)
		}
	}
	delete(objs, key)
	return nil
}

// list returns the bucket's objects whose key starts with prefix and sorts
// after marker, in key (byte) order.
func (s *ossStore) list(bucket, prefix, marker string) ([]*ossObject, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	objs, ok := s.buckets[bucket]
	if !ok {
		return nil, errNoBucket
	}
	var out []*ossObject
	for k, ob := range objs {
		if strings.HasPrefix(k, prefix) && k > marker {
			out = append(out, ob)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// writeFileAtomic writes b to name through a temporary file and a rename.
func writeFileAtomic(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
