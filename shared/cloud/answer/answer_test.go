package answer_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/cloud/answer"
)

// decode reads s as the SDK does (numbers as json.Number).
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStringInt(t *testing.T) {
	body := decode(t, `{"Id":1234567890123,"Name":"x","TotalCount":600,"Text":"42","Frac":1.5,"Null":null,"Obj":{}}`)
	for _, tc := range []struct {
		key string
		str string
		num int
	}{
		{"Id", "1234567890123", 1234567890123},
		{"Name", "x", 0},
		{"TotalCount", "600", 600},
		{"Text", "42", 42},
		{"Frac", "1.5", 0},
		{"Null", "", 0},
		{"Obj", "", 0},
		{"Absent", "", 0},
	} {
		if got := answer.String(body[tc.key]); got != tc.str {
			t.Errorf("String(%s) = %q, want %q", tc.key, got, tc.str)
		}
		if got := answer.Int(body[tc.key]); got != tc.num {
			t.Errorf("Int(%s) = %d, want %d", tc.key, got, tc.num)
		}
	}
	if got := answer.String(float64(600)); got != "600" {
		t.Errorf("String(600.0) = %q", got)
	}
}

func TestObjects(t *testing.T) {
	body := decode(t, `{"List":[{"A":"1"},"text",2,{"B":"2"}],"Empty":[],"Obj":{"A":"1"}}`)
	for _, tc := range []struct {
		key  string
		want []map[string]any
	}{
		{"List", []map[string]any{{"A": "1"}, {"B": "2"}}},
		{"Empty", []map[string]any{}},
		{"Obj", []map[string]any{}},
		{"Absent", []map[string]any{}},
	} {
		if got := answer.Objects(body[tc.key]); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Objects(%s) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

// TestInt64: every form the SDK decodes a number in, and a decimal
// string, reads; anything else is not a number.
func TestInt64(t *testing.T) {
	body := decode(t, `{"n": 1796557105123, "s": "42", "f": 1.5e3, "x": "4x", "b": true}`)
	tests := []struct {
		v    any
		want int64
		ok   bool
	}{
		{body["n"], 1796557105123, true},
		{body["s"], 42, true},
		{float64(1500), 1500, true},
		{int64(7), 7, true},
		{3, 3, true},
		{body["x"], 0, false},
		{body["b"], 0, false},
		{nil, 0, false},
	}
	for i, tt := range tests {
		if got, ok := answer.Int64(tt.v); got != tt.want || ok != tt.ok {
			t.Errorf("%d: Int64(%#v) = %d, %v; want %d, %v", i, tt.v, got, ok, tt.want, tt.ok)
		}
	}
}
