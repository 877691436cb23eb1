package main

import rego.v1

# No list is disabled (retired) without the merge request label retire.

deny contains msg if {
	some rc in input.plan.resource_changes
	rc.type == "listsync_list"
	"disable" in rc.change.actions
	not "retire" in input.labels
	msg := sprintf("%s: disabling a list needs the label retire", [rc.address])
}
