/*
 * Win32 implementation of platform.h: a run elevated (EM's Run As System) on
 * behalf of the logged-on user, identified by SID, copies only what that
 * user can read and gives what it creates to that user.
 *
 * What a SYSTEM-created file gets without any of this: its DACL is made of
 * the inheritable ACEs of its folder. A destination in the user's profile
 * (%USERPROFILE%, or a File Director / OneDrive folder inside it) inherits
 * the profile root's ACL, which on a default Windows install grants SYSTEM,
 * Administrators and the user full control (OI)(CI) and nobody else: the
 * user can read, replace and delete the backup, and nobody gains access
 * they did not have to the folder. Inheritance alone is therefore enough
 * and never wider than the folder the admin chose. Its owner, though, is
 * the creating token's default owner (SYSTEM, or Administrators), so the
 * user cannot change its ACL, and per-user quotas charge it to the
 * service. pf_give_to_user therefore also makes the user the owner - by
 * handle, so that what is checked (not a reparse point, one link) is what
 * is changed, as the POSIX fchown does. The DACL is not touched: widening
 * it is never needed, narrowing it is the folder's job.
 */
#include "pf_win32.h"

#include <aclapi.h>
#include <authz.h>
#include <sddl.h>

#include <stdlib.h>

static ps_status sid_from_text(const char *user_sid, PSID *sid, ps_err *err)
{
    wchar_t *w = pfw_utf16(user_sid);
    BOOL ok = w && ConvertStringSidToSidW(w, sid);
    free(w);
    if (!ok)
        return ps_err_set(err, PS_ERR_INVALID, "'%s' is not a Windows SID", user_sid);
    return PS_OK;
}

/* --- may the user read this file? ---------------------------------------- */
/* Well-known groups in every interactive logon token: a DACL entry for one
 * of them applies to the user. */
static const char *const g_logon_groups[] = {
    "S-1-1-0",      /* Everyone */
    "S-1-5-11",     /* Authenticated Users */
    "S-1-5-4",      /* INTERACTIVE */
    "S-1-5-32-545", /* Users */
};

static int sid_applies(PSID ace_sid, PSID user)
{
    if (EqualSid(ace_sid, user))
        return 1;
    for (size_t i = 0; i < sizeof g_logon_groups / sizeof g_logon_groups[0]; i++) {
        PSID g = NULL;
        int same = 0;
        if (ConvertStringSidToSidA(g_logon_groups[i], &g)) {
            same = EqualSid(ace_sid, g);
            LocalFree(g);
        }
        if (same)
            return 1;
    }
    return 0;
}

/* The DACL read the way Windows reads it (ordered: a deny before the allows
 * it overrides), for the user's SID and the well-known groups every logged
 * on user has. It cannot know the user's domain and local groups, so it can
 * only under-grant: a PST readable only through such a group is skipped with
 * a warning, never one the user cannot read copied. Used when Authz cannot
 * build the user's context (a domain account while the domain controller is
 * out of reach; Wine, which has no Authz). */
static int dacl_grants_read(PACL dacl, PSID user)
{
    if (!dacl)
        return 1; /* a NULL DACL grants everyone everything */
    ACCESS_MASK want = FILE_READ_DATA, granted = 0;
    for (DWORD i = 0; i < dacl->AceCount; i++) {
        ACE_HEADER *ace = NULL;
        if (!GetAce(dacl, i, (void **)&ace) || (ace->AceFlags & INHERIT_ONLY_ACE))
            continue;
        if (ace->AceType == ACCESS_DENIED_ACE_TYPE) {
            ACCESS_DENIED_ACE *d = (ACCESS_DENIED_ACE *)ace;
            if (sid_applies((PSID)&d->SidStart, user) && (d->Mask & want & ~granted))
                return 0;
        } else if (ace->AceType == ACCESS_ALLOWED_ACE_TYPE) {
            ACCESS_ALLOWED_ACE *a = (ACCESS_ALLOWED_ACE *)ace;
            if (sid_applies((PSID)&a->SidStart, user)) {
                ACCESS_MASK m = a->Mask;
                if (m & GENERIC_ALL)
                    m |= FILE_ALL_ACCESS;
                if (m & GENERIC_READ)
                    m |= FILE_GENERIC_READ;
                granted |= m;
                if ((granted & want) == want)
                    return 1;
            }
        }
    }
    return 0;
}

/* AuthzAccessCheck: the user's full group membership against the file's
 * security descriptor, as Windows would check it at open. 1 granted, 0
 * denied, -1 Authz could not tell. */
static int authz_grants_read(PSECURITY_DESCRIPTOR sd, PSID user)
{
    AUTHZ_RESOURCE_MANAGER_HANDLE rm = NULL;
    AUTHZ_CLIENT_CONTEXT_HANDLE ctx = NULL;
    int result = -1;
    LUID none = {0, 0};
    if (AuthzInitializeResourceManager(AUTHZ_RM_FLAG_NO_AUDIT, NULL, NULL, NULL, NULL, &rm) &&
        AuthzInitializeContextFromSid(0, user, rm, NULL, none, NULL, &ctx)) {
        AUTHZ_ACCESS_REQUEST req = {.DesiredAccess = FILE_READ_DATA};
        ACCESS_MASK granted = 0;
        DWORD error = 0;
        AUTHZ_ACCESS_REPLY reply = {.ResultListLength = 1, .GrantedAccessMask = &granted,
                                    .Error = &error};
        if (AuthzAccessCheck(0, ctx, &req, NULL, sd, NULL, 0, &reply, NULL))
            result = error == ERROR_SUCCESS && (granted & FILE_READ_DATA) ? 1 : 0;
    }
    if (ctx)
        AuthzFreeContext(ctx);
    if (rm)
        AuthzFreeResourceManager(rm);
    return result;
}

ps_status pf_user_can_read(const char *path, const char *user_sid, ps_err *err)
{
    if (!user_sid)
        return PS_OK;
    PSID user = NULL;
    ps_status s = sid_from_text(user_sid, &user, err);
    if (s != PS_OK)
        return s;
    wchar_t *w = NULL;
    if ((s = pfw_path_err(path, &w, err)) != PS_OK) {
        LocalFree(user);
        return s;
    }
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    DWORD e = GetNamedSecurityInfoW(w, SE_FILE_OBJECT,
                                    OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
                                        DACL_SECURITY_INFORMATION,
                                    NULL, NULL, &dacl, NULL, &sd);
    free(w);
    if (e != ERROR_SUCCESS) {
        LocalFree(user);
        return pfw_err(err, e, "cannot read the permissions of", path);
    }
    int ok = authz_grants_read(sd, user);
    if (ok < 0)
        ok = dacl_grants_read(dacl, user);
    LocalFree(sd);
    LocalFree(user);
    if (!ok)
        return ps_err_set(err, PS_ERR_ACCESS,
                          "the user %s may not read '%s' (its permissions do not grant them "
                          "read access), so it is not backed up for them",
                          user_sid, path);
    return PS_OK;
}

/* --- giving what the run created to the user ------------------------------ */
/* Setting another account as owner needs SeRestorePrivilege, which SYSTEM
 * holds but may not have enabled. Enabled for the one call and put back, so
 * the host process keeps the token it had. */
static int enable_restore(TOKEN_PRIVILEGES *previous, HANDLE *token)
{
    *token = NULL;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, token))
        return 0;
    TOKEN_PRIVILEGES tp = {.PrivilegeCount = 1};
    DWORD len = sizeof *previous;
    if (!LookupPrivilegeValueW(NULL, SE_RESTORE_NAME, &tp.Privileges[0].Luid))
        return 0;
    tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    return AdjustTokenPrivileges(*token, FALSE, &tp, sizeof *previous, previous, &len) &&
           GetLastError() == ERROR_SUCCESS;
}

ps_status pf_give_to_user(const char *path, int64_t uid, int64_t gid, const char *user_sid,
                          ps_err *err)
{
    (void)uid; /* Windows has no uids */
    (void)gid;
    if (!user_sid)
        return PS_OK;
    PSID user = NULL;
    ps_status s = sid_from_text(user_sid, &user, err);
    if (s != PS_OK)
        return s;
    wchar_t *w = NULL;
    if ((s = pfw_path_err(path, &w, err)) != PS_OK) {
        LocalFree(user);
        return s;
    }
    /* OPEN_REPARSE_POINT: a link planted in the user's folder is opened
     * itself, seen below, and refused - never its target. */
    HANDLE h = CreateFileW(w, READ_CONTROL | WRITE_OWNER,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS,
                           NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        LocalFree(user);
        return pfw_err(err, e, "cannot give to the user", path);
    }
    BY_HANDLE_FILE_INFORMATION info;
    PSID owner = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    if (!GetFileInformationByHandle(h, &info)) {
        s = pfw_err(err, GetLastError(), "cannot examine", path);
    } else if ((info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) ||
               (!(info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) && info.nNumberOfLinks != 1)) {
        s = ps_err_set(err, PS_ERR_UNSAFE,
                       "'%s' is not a folder or a file of our own; not given to the user", path);
    } else if (GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, &owner, NULL, NULL,
                               NULL, &sd) == ERROR_SUCCESS &&
               owner && EqualSid(owner, user)) {
        /* already the user's: one open, nothing changed */
    } else {
        TOKEN_PRIVILEGES previous;
        HANDLE token = NULL;
        int enabled = enable_restore(&previous, &token);
        DWORD e = SetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, user, NULL,
                                  NULL, NULL);
        if (enabled)
            AdjustTokenPrivileges(token, FALSE, &previous, 0, NULL, NULL);
        if (token)
            CloseHandle(token);
        if (e != ERROR_SUCCESS)
            s = pfw_err(err, e, "cannot make the user the owner of", path);
    }
    if (sd)
        LocalFree(sd);
    CloseHandle(h);
    LocalFree(user);
    return s;
}
