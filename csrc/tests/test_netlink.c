/* netlink.c's checks that come before any kernel object is made: MAC parsing, and the
 * refusals of attach (bad names, no bridge, no process) with their errno and message.
 * The pair itself is tested on the real kernel in tests/network/test_netlink.py. */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "../netlink.h"
#include "check.h"

static void test_parses_macs(void)
{
    uint8_t mac[6];
    CHECK(pyctr_parse_mac("02:42:0a:58:00:05", mac) == 0);
    CHECK(mac[0] == 0x02 && mac[2] == 0x0a && mac[5] == 0x05);
    CHECK(pyctr_parse_mac("02:42:0A:58:00:FF", mac) == 0 && mac[5] == 0xff);
    const char *bad[] = {"", "02:42:0a:58:00", "02:42:0a:58:00:05:", "02:42:0a:58:00:5", "0x:42:0a:58:00:05",
                         "02-42-0a-58-00-05", "01:00:5e:00:00:01" /* multicast */, "00:00:00:00:00:00",
                         " 2:42:0a:58:00:05"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(pyctr_parse_mac(bad[i], mac) == -1);
}

static struct pyctr_veth veth(const char *host, const char *bridge, pid_t pid)
{
    struct pyctr_veth v = {.pid = pid, .host_name = host, .peer_name = "eth0", .bridge = bridge, .prefix = 24};
    return v;
}

static void expect_refusal(struct pyctr_veth v, int errnum, const char *message)
{
    uint8_t mac[6];
    struct pyctr_err err;
    CHECK(pyctr_veth_attach(&v, mac, &err) == -1);
    CHECK(err.errnum == errnum);
    CHECK(err.stage == PYCTR_STAGE_NETWORK);
    CHECK_STR(err.message, message);
}

static void test_refusals(void)
{
    expect_refusal(veth("a-name-of-16-chr", "lo", 1), EINVAL, "bad interface name 'a-name-of-16-chr'");
    expect_refusal(veth("", "lo", 1), EINVAL, "bad interface name ''");
    expect_refusal(veth("pyctr-test-x", "pyctr-no-such", 1), ENODEV, "no bridge pyctr-no-such");
    expect_refusal(veth("pyctr-test-x", "lo", -1), ESRCH, "no process -1");
    char own[80];
    snprintf(own, sizeof own, "process %d is in this network namespace, not one of its own", (int)getpid());
    expect_refusal(veth("pyctr-test-x", "lo", getpid()), EINVAL, own);
    struct pyctr_veth v = veth("pyctr-test-x", "lo", 1);
    v.prefix = 33;
    expect_refusal(v, EINVAL, "bad prefix length 33");
}

static void test_deleting_nothing(void)
{
    struct pyctr_err err;
    CHECK(pyctr_link_delete("pyctr-no-such", &err) == 0);
}

int main(void)
{
    test_parses_macs();
    test_refusals();
    test_deleting_nothing();
    return check_failures != 0;
}
