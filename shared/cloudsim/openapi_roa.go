package cloudsim

import (
	"net/http"
	"net/url"
	"strings"
)

// routeROA checks that a request for an ROA-style operation uses its
// method and path, as the vendor's gateway routes them, and adds the
// path's variables to params (percent-decoded). An RPC operation (no
// path) passes.
func routeROA(api apiSpec, r *http.Request, params url.Values) *apiError {
	if api.path == "" {
		return nil
	}
	notFound := func() *apiError {
		return (&apiError{status: http.StatusNotFound, code: "InvalidAction.NotFound"}).withMessage(
			"The " + api.action + " operation is " + api.method + " " + api.path + ", not " + r.Method + " " + r.URL.EscapedPath() + ".")
	}
	if r.Method != api.method {
		return notFound()
	}
	want := strings.Split(strings.Trim(api.path, "/"), "/")
	got := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if len(want) != len(got) {
		return notFound()
	}
	for i, w := range want {
		if name, ok := strings.CutPrefix(w, "{"); ok {
			v, err := url.PathUnescape(got[i])
			if err != nil || v == "" {
				return notFound()
			}
			params.Set(strings.TrimSuffix(name, "}"), v)
			continue
		}
		if w != got[i] {
			return notFound()
		}
	}
	return nil
}
