package main

import rego.v1

# More than 20 changes need the merge request label large-change. A new list counts as
# one change, whatever its settings and owners.

max_changes := 20

creates contains rc.address if {
	some rc in input.plan.resource_changes
	rc.type == "listsync_list"
	"create" in rc.change.actions
}

part_of_a_new_list(rc) if {
	some list in creates
	startswith(rc.address, sprintf("%s.", [list]))
}

changes := [rc | some rc in input.plan.resource_changes; not part_of_a_new_list(rc)]

deny contains msg if {
	count(changes) > max_changes
	not "large-change" in input.labels
	msg := sprintf("%d changes, more than %d: label the merge request large-change", [count(changes), max_changes])
}
