package cloudsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

// ossError is an OSS error answer: HTTP status, error code and message.
type ossError struct {
	status  int
	code    string
	message string
}

// ossErrorBody is OSS's XML error document.
type ossErrorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
	// EC is OSS's detailed error code; the emulator leaves it empty.
	EC string `xml:"EC,omitempty"`
}

// writeOSSError answers e as OSS does: the XML document as body, and for
// HEAD (which has no body) base64 of it in x-oss-err, which the SDK reads.
func writeOSSError(w http.ResponseWriter, r *http.Request, e *ossError, requestID, hostID string) {
	body, _ := xml.Marshal(ossErrorBody{Code: e.code, Message: e.message, RequestID: requestID, HostID: hostID})
	body = append([]byte(xml.Header), body...)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	if r.Method == http.MethodHead {
		h.Set("x-oss-err", base64.StdEncoding.EncodeToString(body))
		w.WriteHeader(e.status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// writeXML answers 200 with v as an XML document.
func writeXML(w http.ResponseWriter, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body = append([]byte(xml.Header), body...)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// newOSSRequestID returns a request ID shaped like OSS's: 24 uppercase hex
// digits.
func newOSSRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// newUUID returns a random RFC 4122 version 4 UUID, the shape of Function
// Compute request IDs.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// listBucketResult is the ListObjects (v1) answer.
type listBucketResult struct {
	XMLName        xml.Name         `xml:"ListBucketResult"`
	Name           string           `xml:"Name"`
	Prefix         string           `xml:"Prefix"`
	Marker         string           `xml:"Marker"`
	MaxKeys        int              `xml:"MaxKeys"`
	Delimiter      string           `xml:"Delimiter"`
	EncodingType   string           `xml:"EncodingType,omitempty"`
	IsTruncated    bool             `xml:"IsTruncated"`
	NextMarker     string           `xml:"NextMarker,omitempty"`
	Contents       []listContents   `xml:"Contents"`
	CommonPrefixes []commonPrefixes `xml:"CommonPrefixes"`
}

type listContents struct {
	Key          string   `xml:"Key"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
	Type         string   `xml:"Type"`
	Size         int64    `xml:"Size"`
	StorageClass string   `xml:"StorageClass"`
	Owner        ossOwner `xml:"Owner"`
}

type ossOwner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type commonPrefixes struct {
	Prefix string `xml:"Prefix"`
}
