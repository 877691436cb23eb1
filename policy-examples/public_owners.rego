package main

import rego.v1

# A list may not become public with fewer than two owners. Public: advertised in the
# list of lists, or a public archive. The plan shows what changes, so every owner of a
# list it creates, but not the owners a list that exists keeps: this checks new lists.

new_lists contains rc.address if {
	some rc in input.plan.resource_changes
	rc.type == "listsync_list"
	"create" in rc.change.actions
}

made_public(list) if {
	some rc in input.plan.resource_changes
	rc.type == "listsync_setting"
	some key, public in {"advertised": true, "archive_policy": "public"}
	rc.address == sprintf("%s.settings.%s", [list, key])
	rc.change.after == public
}

owners_added(list) := count([rc |
	some rc in input.plan.resource_changes
	rc.type == "listsync_owner"
	startswith(rc.address, sprintf("%s.owners[", [list]))
	"add" in rc.change.actions
])

deny contains msg if {
	some list in new_lists
	made_public(list)
	owners_added(list) < 2
	msg := sprintf("%s: a public list needs two owners or more; it gets %d", [list, owners_added(list)])
}
