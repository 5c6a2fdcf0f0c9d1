package product

import (
	"fmt"
	"regexp"

	"github.com/certdrop/certdrop/shared/manifest"
)

// RegionPattern is the form of an Alibaba Cloud region ID (cn-hangzhou,
// ap-southeast-1, eu-central-1): the manifest and the schema check it.
const RegionPattern = `^[a-z]{2,4}(-[a-z0-9]{1,16}){1,4}$`

var regionRE = regexp.MustCompile(RegionPattern)

// RegionField is the required region field of product p's targets:
// missing is the error of a target that leaves it out; a value not of
// RegionPattern's form is an invalid p region.
func RegionField(p manifest.Product, missing string) manifest.Field {
	return PatternField("region", regionRE, missing,
		"invalid "+string(p)+" region %q (a region ID such as cn-hangzhou)")
}

// PatternField is a required field whose value must match re: missing is
// the error of a target that leaves the field out, invalid the format of
// the error of a value that does not match, its one verb (%q) given the
// value.
func PatternField(name string, re *regexp.Regexp, missing, invalid string) manifest.Field {
	return manifest.Field{
		Name:    name,
		Missing: missing,
		Check: func(s string) string {
			if !re.MatchString(s) {
				return fmt.Sprintf(invalid, s)
			}
			return ""
		},
	}
}
