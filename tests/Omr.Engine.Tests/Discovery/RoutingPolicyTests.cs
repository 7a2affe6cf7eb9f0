using System.Collections.Generic;
using System.Linq;
using System.Net;
using Omr.Engine.Discovery;
using Xunit;

namespace Omr.Engine.Tests.Discovery
{
    /// <summary>
    /// The routing policy of RFC 5321 5.1 and RFC 7505 as a table: what a domain's MX records select before any
    /// address is looked up, what an exchange is, and each address tested once under its most preferred host.
    /// </summary>
    public class RoutingPolicyTests
    {
        private static List<MxEntry> Mx(params (int Pref, string Exchange)[] records) =>
            records.Select(r => new MxEntry(r.Pref, r.Exchange)).ToList();

        private static string Names(MxSelection s) => string.Join(" ", s.Selected.Select(e => $"{e.Preference}:{e.Exchange}"));

        [Fact]
        public void No_MX_records_is_the_implicit_MX_of_RFC_5321()
        {
            var s = RoutingPolicy.Select("example.com", Mx(), 5);
            Assert.True(s.ImplicitMx);
            Assert.False(s.NullMx);
            Assert.Empty(s.Selected);
            Assert.Null(s.Note);
        }

        [Theory]
        [InlineData(".")]
        [InlineData("")]
        public void A_single_MX_to_the_root_is_the_null_MX_of_RFC_7505(string exchange)
        {
            var s = RoutingPolicy.Select("example.com", Mx((0, exchange)), 5);
            Assert.True(s.NullMx);
            Assert.False(s.ImplicitMx);
            Assert.Empty(s.Selected);
        }

        [Fact]
        public void A_root_MX_beside_real_ones_is_not_a_null_MX_and_is_dropped()
        {
            var s = RoutingPolicy.Select("example.com", Mx((0, "."), (10, "mx.example.com")), 5);
            Assert.False(s.NullMx);
            Assert.Equal("10:mx.example.com", Names(s));
        }

        [Theory]
        // most preferred first, ties by name
        [InlineData("20:b 10:c 10:a", 5, "10:a 10:c 20:b", 0)]
        // one entry per exchange, at its best preference
        [InlineData("30:a 10:a 20:b", 5, "10:a 20:b", 0)]
        // bounded: the least preferred are left out and counted
        [InlineData("10:a 20:b 30:c 40:d", 2, "10:a 20:b", 2)]
        [InlineData("10:a 10:a 10:a", 1, "10:a", 0)]
        public void Selects_each_exchange_once_most_preferred_first_and_bounded(string records, int max, string expected, int omitted)
        {
            var parsed = records.Split(' ').Select(r => r.Split(':')).Select(p => (int.Parse(p[0]), p[1])).ToArray();
            var s = RoutingPolicy.Select("example.com", Mx(parsed), max);
            Assert.Equal(expected, Names(s));
            Assert.Equal(omitted, s.Omitted);
            if (omitted > 0) Assert.Contains($"{omitted} left out (MaxMxHosts = {max})", s.Note);
            else Assert.Null(s.Note);
        }

        [Theory]
        [InlineData("mx.example.com", ExchangeKind.Name)]
        [InlineData("192.0.2.1", ExchangeKind.DottedQuad)]
        [InlineData("[192.0.2.1]", ExchangeKind.Refused)]
        [InlineData("2001:db8::1", ExchangeKind.Refused)]
        [InlineData("192.0.2", ExchangeKind.Name)]
        [InlineData("999.0.2.1", ExchangeKind.Name)]
        public void An_exchange_is_a_name_a_dotted_quad_tested_as_an_address_or_refused(string exchange, ExchangeKind kind) =>
            Assert.Equal(kind, RoutingPolicy.KindOf(exchange));

        private static MailHost Host(string name, int pref, params string[] addresses) =>
            new MailHost(name, pref, addresses.Select(IPAddress.Parse).ToList(), false);

        [Fact]
        public void A_shared_address_is_tested_once_under_its_most_preferred_host()
        {
            var notes = new List<string>();
            var hosts = RoutingPolicy.Deduplicate(new[]
            {
                Host("mx1.example.com", 10, "192.0.2.1"),
                Host("mx2.example.com", 20, "192.0.2.1", "192.0.2.2"),
                Host("mx3.example.com", 30, "192.0.2.2"),
                Host("dead.example.com", 40),
            }, notes);

            Assert.Equal(new[] { "mx1.example.com", "mx2.example.com", "dead.example.com" }, hosts.Select(h => h.Name));
            Assert.Equal(new[] { "192.0.2.1" }, hosts[0].Addresses.Select(a => a.ToString()));
            Assert.Equal(new[] { "192.0.2.2" }, hosts[1].Addresses.Select(a => a.ToString()));
            Assert.Empty(hosts[2].Addresses);
            Assert.Equal(new[] { "mx2.example.com" }, hosts[0].Aliases);
            Assert.Equal(new[] { "mx3.example.com" }, hosts[1].Aliases);
            Assert.Equal(2, notes.Count);
            Assert.Contains("MX 20 mx2.example.com shares 192.0.2.1 with the more preferred mx1.example.com", notes[0]);
            Assert.Contains("MX 30 mx3.example.com shares 192.0.2.2 with the more preferred mx2.example.com", notes[1]);
        }

        [Fact]
        public void Distinct_addresses_are_kept_as_they_are()
        {
            var notes = new List<string>();
            var input = new[] { Host("a.example.com", 10, "192.0.2.1"), Host("b.example.com", 20, "2001:db8::1") };
            var hosts = RoutingPolicy.Deduplicate(input, notes);
            Assert.Same(input[0], hosts[0]);
            Assert.Same(input[1], hosts[1]);
            Assert.Empty(notes);
        }
    }
}
