using Omr.Engine.Probing;
using Xunit;

namespace Omr.Engine.Tests;

public class CatalogTests
{
    private static readonly ProbeContext V4 = new("omr-probe@example.org", "relay-test@example.net", "192.0.2.7", "mx.target.test", "target.test");
    private static readonly ProbeContext V6 = new("omr-probe@example.org", "relay-test@example.net", "IPv6:2001:db8::7", "mx.target.test", "target.test");

    [Fact]
    public void Catalogue_has_at_least_24_uniquely_named_tests()
    {
        Assert.True(RelayTestCatalog.All.Count >= 24);
        Assert.Equal(RelayTestCatalog.All.Count, RelayTestCatalog.All.Select(t => t.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(RelayTestCatalog.All, t => Assert.Matches("^[a-z0-9-]+$", t.Name));
        Assert.All(RelayTestCatalog.All, t => Assert.False(string.IsNullOrWhiteSpace(t.Proves)));
    }

    [Fact]
    public void Every_expansion_is_unique_so_each_test_probes_something_different()
    {
        var pairs = RelayTestCatalog.All.Select(t => RelayTestTemplates.Expand(t, V4)).Select(e => e.MailFrom + "|" + e.RcptTo).ToList();
        Assert.Equal(pairs.Count, pairs.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Expanding_all_tests_at_once_fills_each_as_expanding_it_alone()
    {
        foreach (var ctx in new[] { V4, V6 })
        {
            var all = RelayTestTemplates.ExpandAll(RelayTestCatalog.All, ctx);
            Assert.Equal(RelayTestCatalog.All.Count, all.Length);
            for (int i = 0; i < all.Length; i++)
            {
                var one = RelayTestTemplates.Expand(RelayTestCatalog.All[i], ctx);
                Assert.Same(RelayTestCatalog.All[i], all[i].Definition);
                Assert.Equal(one.MailFrom, all[i].MailFrom);
                Assert.Equal(one.RcptTo, all[i].RcptTo);
            }
        }
    }

    [Fact]
    public void Expanding_alternating_test_lists_fills_each_list_as_its_own()
    {
        var some = RelayTestCatalog.All.Where((t, i) => i % 3 == 0).Reverse().ToList();
        var custom = new List<RelayTestDefinition>(some) { new RelayTestDefinition("custom-one", "<{fromuser}@{host}>", "<{user}%{ext}@[{ip}]>", "a custom test", "test") };
        foreach (var list in new IReadOnlyList<RelayTestDefinition>[] { RelayTestCatalog.All, some, custom, RelayTestCatalog.All, custom })
        {
            var all = RelayTestTemplates.ExpandAll(list, V4);
            Assert.Equal(list.Count, all.Length);
            for (int i = 0; i < all.Length; i++)
            {
                var one = RelayTestTemplates.Expand(list[i], V4);
                Assert.Same(list[i], all[i].Definition);
                Assert.Equal(one.MailFrom, all[i].MailFrom);
                Assert.Equal(one.RcptTo, all[i].RcptTo);
            }
        }
        // A list changed in place is planned again.
        var changing = new List<RelayTestDefinition>(some);
        RelayTestTemplates.ExpandAll(changing, V4);
        changing[0] = custom[^1];
        Assert.Equal(RelayTestTemplates.Expand(custom[^1], V4).RcptTo, RelayTestTemplates.ExpandAll(changing, V4)[0].RcptTo);
    }

    private static int SplitCost(IReadOnlyList<int> sizes, int mask)
    {
        int total = sizes.Sum(), theirTests = 0, theirs = 0;
        for (int i = 0; i < sizes.Count; i++) if ((mask >> i & 1) != 0) { theirTests += sizes[i]; theirs++; }
        return Math.Max(total - theirTests + 2 * (sizes.Count - theirs) - 1, 2 + theirTests + 2 * theirs - 1);
    }

    [Fact]
    public void Without_pipelining_whole_transactions_split_the_catalogue_into_19_round_trips()
    {
        // The catalogue's tests per sender, in the order the battery sends them.
        var sizes = RelayTestCatalog.All.Select(t => RelayTestTemplates.Expand(t, V4).MailFrom).GroupBy(m => m).Select(g => g.Count()).ToList();
        Assert.Equal(new[] { 7, 1, 1, 1, 1, 14 }, sizes);
        // The best cut in catalogue order costs 20 (7+1+1+1 | 1+14, or 7+1+1+1+1 | 14).
        var mask = SplitPlanner.BestWholeSplit(sizes, 20);
        Assert.NotNull(mask);
        Assert.Equal(19, SplitCost(sizes, mask!.Value));
        // The lower bound: 25 tests, 6 MAILs and 4 RSETs over two connections, one 2 round trips late.
        Assert.Null(SplitPlanner.BestWholeSplit(sizes, 19));
    }

    [Theory]
    [InlineData(new[] { 3, 3 }, 6)]
    [InlineData(new[] { 1, 1, 1, 1 }, 7)]
    [InlineData(new[] { 10, 1 }, 11)]
    public void The_whole_transaction_split_is_the_cheapest_of_all_combinations(int[] sizes, int expected)
    {
        var mask = SplitPlanner.BestWholeSplit(sizes, int.MaxValue);
        Assert.NotNull(mask);
        Assert.Equal(expected, SplitCost(sizes, mask!.Value));
        for (int m = 1; m < (1 << sizes.Length) - 1; m++) Assert.True(SplitCost(sizes, m) >= expected);
    }

    [Theory]
    [InlineData(new[] { 7, 1, 1, 1, 1, 14 }, 19)]
    [InlineData(new[] { 3, 3 }, 6)]
    // A cut inside a transaction beats whole ones: 8 | 2 + 1 costs 9 round trips (MAIL and 8 RCPTs; greeting,
    // EHLO, MAIL, 2 RCPTs, RSET, MAIL, RCPT: 8), 10 | 1 costs 11.
    [InlineData(new[] { 10, 1 }, 9)]
    [InlineData(new[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, 22)]
    public void The_second_connection_gets_the_tests_of_the_cheapest_split(int[] sizes, int cost)
    {
        var theirs = SplitPlanner.SecondConnection(sizes);
        Assert.NotEmpty(theirs);
        Assert.True(theirs.Count < sizes.Sum());
        Assert.Equal(theirs.Distinct().OrderBy(p => p), theirs);
        // What each side costs one command at a time: its tests, and a MAIL and RSET per transaction it touches but one.
        int Side(IEnumerable<int> positions)
        {
            var set = positions.ToHashSet();
            int at = 0, transactions = 0;
            foreach (var size in sizes)
            {
                if (Enumerable.Range(at, size).Any(set.Contains)) transactions++;
                at += size;
            }
            return set.Count + 2 * transactions - 1;
        }
        var ours = Enumerable.Range(0, sizes.Sum()).Except(theirs);
        Assert.Equal(cost, Math.Max(Side(ours), 2 + Side(theirs)));
    }

    [Theory]
    [InlineData(new[] { 25 })]
    [InlineData(new[] { 2, 1 })]
    [InlineData(new int[0])]
    public void One_sender_or_fewer_than_four_tests_stay_on_one_connection(int[] sizes) => Assert.Empty(SplitPlanner.SecondConnection(sizes));

    [Fact]
    public void Too_many_senders_or_one_keep_the_cut_in_catalogue_order()
    {
        Assert.Null(SplitPlanner.BestWholeSplit(Enumerable.Repeat(1, 13).ToArray(), int.MaxValue));
        Assert.Null(SplitPlanner.BestWholeSplit(new[] { 25 }, int.MaxValue));
    }

    [Fact]
    public void Settings_split_the_probe_addresses_once_and_each_address_gets_its_own_values()
    {
        var settings = new ProbeSettings { ProbeFrom = "scan@example.org", ProbeRecipient = "Target@Example.NET" };
        var a = settings.Probe.For("192.0.2.7", "mx.target.test", "target.test");
        var direct = new ProbeContext("scan@example.org", "Target@Example.NET", "192.0.2.7", "mx.target.test", "target.test");
        Assert.Equal(
            RelayTestTemplates.ExpandAll(RelayTestCatalog.All, direct).Select(e => e.MailFrom + "|" + e.RcptTo),
            RelayTestTemplates.ExpandAll(RelayTestCatalog.All, a).Select(e => e.MailFrom + "|" + e.RcptTo));
        Assert.Same(settings.Probe, settings.Probe);
        settings.ProbeRecipient = "other@example.com";
        Assert.Equal("other@example.com", settings.Probe.For("192.0.2.8", "h.test", "test").ProbeRecipient);
    }

    [Theory]
    [InlineData("foreign-recipient", "<omr-probe@example.org>", "<relay-test@example.net>")]
    [InlineData("null-sender", "<>", "<relay-test@example.net>")]
    [InlineData("unqualified-sender", "<omr-probe>", "<relay-test@example.net>")]
    [InlineData("local-domain-sender", "<postmaster@target.test>", "<relay-test@example.net>")]
    [InlineData("ip-literal-sender", "<omr-probe@[192.0.2.7]>", "<relay-test@example.net>")]
    [InlineData("percent-hack-ip", "<omr-probe@[192.0.2.7]>", "<relay-test%example.net@[192.0.2.7]>")]
    [InlineData("percent-hack-host", "<omr-probe@[192.0.2.7]>", "<relay-test%example.net@mx.target.test>")]
    [InlineData("quoted-recipient", "<omr-probe@[192.0.2.7]>", "<\"relay-test@example.net\">")]
    [InlineData("quoted-at-host", "<omr-probe@[192.0.2.7]>", "<\"relay-test@example.net\"@mx.target.test>")]
    [InlineData("double-at-host", "<omr-probe@[192.0.2.7]>", "<relay-test@example.net@mx.target.test>")]
    [InlineData("trailing-at", "<omr-probe@example.org>", "<relay-test@example.net@>")]
    [InlineData("source-route-host", "<omr-probe@[192.0.2.7]>", "<@mx.target.test:relay-test@example.net>")]
    [InlineData("source-route-ip", "<omr-probe@[192.0.2.7]>", "<@[192.0.2.7]:relay-test@example.net>")]
    [InlineData("bang-path", "<omr-probe@[192.0.2.7]>", "<example.net!relay-test>")]
    [InlineData("bang-path-host", "<omr-probe@[192.0.2.7]>", "<example.net!relay-test@mx.target.test>")]
    [InlineData("ipv4-literal-recipient", "<omr-probe@example.org>", "<relay-test@[192.0.2.1]>")]
    [InlineData("ipv6-literal-recipient", "<omr-probe@example.org>", "<relay-test@[IPv6:2001:db8::1]>")]
    [InlineData("unbracketed-recipient", "<omr-probe@example.org>", "relay-test@example.net")]
    [InlineData("uppercase-domain", "<omr-probe@example.org>", "<relay-test@EXAMPLE.NET>")]
    public void Templates_expand_to_the_exact_commands(string name, string mailFrom, string rcptTo)
    {
        var e = RelayTestTemplates.Expand(RelayTestCatalog.Find(name)!, V4);
        Assert.Equal(mailFrom, e.MailFrom);
        Assert.Equal(rcptTo, e.RcptTo);
    }

    [Fact]
    public void IPv6_servers_get_IPv6_address_literals()
    {
        var e = RelayTestTemplates.Expand(RelayTestCatalog.Find("percent-hack-ip")!, V6);
        Assert.Equal("<omr-probe@[IPv6:2001:db8::7]>", e.MailFrom);
        Assert.Equal("<relay-test%example.net@[IPv6:2001:db8::7]>", e.RcptTo);
    }

    [Fact]
    public void Covers_what_nmap_and_metasploit_try()
    {
        // nmap smtp-open-relay and Metasploit smtp_relay recipient forms, by shape.
        var rcpts = RelayTestCatalog.All.Select(t => RelayTestTemplates.Expand(t, V4).RcptTo).ToHashSet();
        foreach (var shape in new[]
        {
            "<relay-test@example.net>", "<relay-test%example.net@[192.0.2.7]>", "<relay-test%example.net@mx.target.test>",
            "<\"relay-test@example.net\">", "<\"relay-test%example.net\">", "<relay-test@example.net@[192.0.2.7]>",
            "<\"relay-test@example.net\"@[192.0.2.7]>", "<relay-test@example.net@mx.target.test>", "<@[192.0.2.7]:relay-test@example.net>",
            "<@mx.target.test:relay-test@example.net>", "<example.net!relay-test>", "<example.net!relay-test@[192.0.2.7]>",
            "<example.net!relay-test@mx.target.test>",
        })
            Assert.Contains(shape, rcpts);
        var froms = RelayTestCatalog.All.Select(t => RelayTestTemplates.Expand(t, V4).MailFrom).ToHashSet();
        foreach (var shape in new[] { "<>", "<omr-probe@example.org>", "<omr-probe>", "<omr-probe@[192.0.2.7]>", "<omr-probe@mx.target.test>", "<postmaster@target.test>" })
            Assert.Contains(shape, froms);
    }

    [Fact]
    public void Select_accepts_names_and_wildcards_in_catalogue_order_and_rejects_unknown_names()
    {
        Assert.Equal(new[] { "percent-hack-ip", "percent-hack-host", "percent-hack-domain" }, RelayTestCatalog.Select(new[] { "PERCENT-*" }).Select(t => t.Name));
        Assert.Equal(new[] { "null-sender", "bang-path" }, RelayTestCatalog.Select(new[] { "bang-path", "null-sender" }).Select(t => t.Name));
        var ex = Assert.Throws<ArgumentException>(() => RelayTestCatalog.Select(new[] { "no-such-test" }));
        Assert.Contains("no-such-test", ex.Message);
        Assert.Same(RelayTestCatalog.All, RelayTestCatalog.Select(null));
    }
}
