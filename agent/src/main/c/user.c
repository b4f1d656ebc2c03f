/* Resolves a Docker user spec against the container's own /etc/passwd and /etc/group.
 * Parsed by hand: getpwnam() could load NSS modules from the host into the container. */
#include "launcher.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 256

struct pw_entry {
	char *name;
	uid_t uid;
	gid_t gid;
	char *home;
};

/* Splits a colon-separated line in place into at most MAX fields; returns the count. */
static int split_colons(char *line, char **f, int max)
{
	int n = 0;
	line[strcspn(line, "\n")] = 0;
	while (n < max) {
		f[n++] = line;
		char *c = strchr(line, ':');
		if (!c)
			break;
		*c = 0;
		line = c + 1;
	}
	return n;
}

static bool is_number(const char *s, long long *v)
{
	return parse_long(s, 0, 0xfffffffeLL, v);
}

/* Finds a passwd entry by name (name != NULL) or by uid. */
static bool find_passwd(const char *name, uid_t uid, struct pw_entry *out)
{
	FILE *f = fopen("/etc/passwd", "re");
	if (!f)
		return false;
	char *line = NULL, *fld[7];
	size_t cap = 0;
	bool found = false;
	long long id, gid;
	while (!found && getline(&line, &cap, f) >= 0) {
		if (split_colons(line, fld, 7) < 4 || !is_number(fld[2], &id) || !is_number(fld[3], &gid))
			continue;
		if (name ? strcmp(fld[0], name) != 0 : (uid_t)id != uid)
			continue;
		out->name = xstrdup(fld[0]);
		out->uid = (uid_t)id;
		out->gid = (gid_t)gid;
		out->home = xstrdup(fld[5] && fld[5][0] ? fld[5] : "/");
		found = true;
	}
	free(line);
	fclose(f);
	return found;
}

static bool member_of(char *members, const char *user)
{
	for (char *save, *m = strtok_r(members, ",", &save); m; m = strtok_r(NULL, ",", &save))
		if (!strcmp(m, user))
			return true;
	return false;
}

/* Walks /etc/group: resolves GROUP_NAME (if set) into *gid and, when USER is set,
 * collects the groups listing USER as a member. */
static bool scan_groups(const char *group_name, gid_t *gid, const char *user, struct exec_user *u)
{
	FILE *f = fopen("/etc/group", "re");
	if (!f)
		return group_name == NULL;
	char *line = NULL, *fld[4];
	size_t cap = 0;
	bool found = false;
	long long id;
	while (getline(&line, &cap, f) >= 0) {
		int n = split_colons(line, fld, 4);
		if (n < 3 || !is_number(fld[2], &id))
			continue;
		if (group_name && !found && !strcmp(fld[0], group_name)) {
			*gid = (gid_t)id;
			found = true;
		}
		if (user && n == 4 && u->ngroups < MAX_GROUPS && member_of(fld[3], user))
			u->groups[u->ngroups++] = (gid_t)id;
	}
	free(line);
	fclose(f);
	return group_name == NULL || found;
}

static int resolve_uid(char *user, struct exec_user *u, struct pw_entry *pw, char **err)
{
	long long v;
	if (is_number(user, &v)) {
		u->uid = (uid_t)v;
		u->gid = 0; /* Docker: a uid without a passwd entry gets gid 0 */
		if (find_passwd(NULL, u->uid, pw))
			u->gid = pw->gid;
		return 0;
	}
	if (!find_passwd(user, 0, pw)) {
		*err = xasprintf("unable to find user %s: no matching entries in passwd file", user);
		return -1;
	}
	u->uid = pw->uid;
	u->gid = pw->gid;
	return 0;
}

int user_resolve(const char *spec, struct exec_user *u, char **err)
{
	char *user = xstrdup(spec && *spec ? spec : "0");
	char *group = strchr(user, ':');
	struct pw_entry pw = {0};
	long long v;
	int rc = -1;
	if (group)
		*group++ = 0;
	memset(u, 0, sizeof(*u));
	u->groups = xmalloc(MAX_GROUPS * sizeof(gid_t));
	if (resolve_uid(user, u, &pw, err) < 0)
		goto out;
	bool numeric_group = group && is_number(group, &v);
	if (numeric_group)
		u->gid = (gid_t)v;
	/* supplementary groups come from membership only when no group was given */
	const char *member = group ? NULL : pw.name;
	if (!scan_groups(group && !numeric_group ? group : NULL, &u->gid, member, u)) {
		*err = xasprintf("unable to find group %s: no matching entries in group file", group);
		goto out;
	}
	u->home = pw.home;
	pw.home = NULL;
	rc = 0;
out:
	free(pw.name);
	free(pw.home);
	free(user);
	return rc;
}
