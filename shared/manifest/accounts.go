package manifest

import (
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Account is another Alibaba Cloud account whose products certdrop sets
// certificates on: the manifest's accounts section names it, and a
// target's account field picks it. certdrop acts in it through the RAM
// role RoleArn, whose temporary credentials STS AssumeRole gives the
// function (signed with the function's own credentials). A target without
// an account is in the function's own account.
type Account struct {
	// Name is what targets call the account: letters, digits, '-' and
	// '_', starting with a letter or a digit, at most MaxAccountName
	// characters.
	Name string `json:"name"`
	// RoleArn is the RAM role certdrop assumes in the account:
	// acs:ram::<16-digit account ID>:role/<role name>.
	RoleArn string `json:"roleArn"`
	// Line is the manifest line the account is named on.
	Line int `json:"-"`
}

// MaxAccountName is the longest account name.
const MaxAccountName = 32

// MaxAccounts caps the accounts a manifest may name: each runs its own
// pacers, and a hundred accounts is an organisation, not a mistake.
const MaxAccounts = 100

var (
	accountFields = []string{"name", "roleArn"}
	accountName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	// roleARN is a RAM role's ARN as STS AssumeRole takes it: the
	// account's 16-digit ID, and a role name of 1 to 64 letters, digits,
	// periods and hyphens (RAM's rule for role names).
	roleARN = regexp.MustCompile(`^acs:ram::([0-9]{16}):role/([A-Za-z0-9.-]{1,64})$`)
)

// AccountID returns the account ID (UID) a role ARN names, and whether
// the ARN is well formed.
func AccountID(roleArn string) (string, bool) {
	m := roleARN.FindStringSubmatch(roleArn)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Account returns the account named name; ok is false when the manifest
// names none (name "" is the function's own account, which has no entry).
func (m *Manifest) Account(name string) (Account, bool) {
	for _, a := range m.Accounts {
		if a.Name == name {
			return a, true
		}
	}
	return Account{}, false
}

// accounts reads the accounts section.
func (p *parser) accounts(raw *yaml.Node) []Account {
	list := resolve(raw)
	switch {
	case isNull(list):
		return nil
	case list.Kind != yaml.SequenceNode:
		p.errorf(raw, "accounts must be a list, not %s", describe(list))
		return nil
	case len(list.Content) > MaxAccounts:
		p.errorf(raw, "too many accounts: a manifest names at most %d", MaxAccounts)
		return nil
	}
	var out []Account
	byName := map[string]int{}
	byID := map[string]Account{}
	for _, item := range list.Content {
		n := resolve(item)
		if n.Kind != yaml.MappingNode {
			p.errorf(item, "an account must be a mapping with name and roleArn, not %s", describe(n))
			continue
		}
		f := p.fields(n, "account", accountFields)
		a := Account{Line: n.Line}
		ok := true
		if v := f.value("name"); v == nil {
			p.errorf(n, "account has no name")
			ok = false
		} else if s, good := p.str(v, "name"); !good {
			ok = false
		} else {
			switch {
			case s == "":
				p.errorf(v, "account name must not be empty")
				ok = false
			case len(s) > MaxAccountName || !accountName.MatchString(s):
				p.errorf(v, "account name %q: use 1 to %d letters, digits, '-' and '_', starting with a letter or a digit", s, MaxAccountName)
				ok = false
			default:
				if line, dup := byName[s]; dup {
					p.errorf(v, "account %q is already named on line %d", s, line)
					ok = false
				}
			}
			a.Name = s
			a.Line = v.Line
		}
		if v := f.value("roleArn"); v == nil {
			p.errorf(n, "account has no roleArn (acs:ram::<account ID>:role/<role name>)")
			ok = false
		} else if s, good := p.str(v, "roleArn"); !good {
			ok = false
		} else if id, good := AccountID(s); !good {
			p.errorf(v, "roleArn %q is not a RAM role's ARN: want acs:ram::<16-digit account ID>:role/<role name>", s)
			ok = false
		} else {
			a.RoleArn = s
			if first, dup := byID[id]; dup {
				// Quotas are per account: two entries would pace one
				// account's APIs at twice their quota.
				p.errorf(v, "account %s is already named %q on line %d: quotas are per account, so name each account once", id, first.Name, first.Line)
				ok = false
			} else {
				byID[id] = a
			}
		}
		if a.Name != "" {
			if _, dup := byName[a.Name]; !dup {
				byName[a.Name] = a.Line
				// Named, even when its entry is wrong: its targets are
				// not reported a second time.
				p.accountNames = append(p.accountNames, a.Name)
			}
		}
		if ok {
			out = append(out, a)
		}
	}
	return out
}

// targetAccount reads a target's account field: the name of an entry of
// accounts, or nothing for the function's own account.
func (p *parser) targetAccount(f fields, t *Target) {
	v := f.value("account")
	if v == nil {
		return
	}
	s, ok := p.str(v, "account")
	if !ok {
		return
	}
	names := p.accountNames
	switch {
	case slices.Contains(names, s):
		t.Account = s
	case len(names) == 0:
		p.errorf(v, "unknown account %q: the manifest has no accounts section (leave account out for the function's own account)", s)
	case suggest(s, names) != "":
		p.errorf(v, "unknown account %q%s", s, suggest(s, names))
	default:
		p.errorf(v, "unknown account %q (the accounts section names %s)", s, strings.Join(names, ", "))
	}
}
