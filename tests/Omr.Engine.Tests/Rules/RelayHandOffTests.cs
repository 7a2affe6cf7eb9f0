using Omr;
using Omr.Engine.Evidence;
using Xunit;
using Omr.Engine.Rules;

namespace Omr.Engine.Tests.Rules;

/// <summary>"Delivered means relayed": the Received chain must show the tested server handing the message on.</summary>
public class RelayHandOffTests
{
    private static ReceivedHop[] Chain(params string[] newestFirst) => newestFirst.Select(ReceivedChainParser.ParseHop).ToArray();

    private const string Date = "; Sat, 5 Dec 2026 15:29:40 +0000";

    [Fact]
    public void A_relay_that_handed_the_message_to_the_mailbox_MX_is_proof()
    {
        // Real Postfix peers: the open relay 127.0.0.21 hands on to the mailbox MX, which delivers by LMTP into Dovecot.
        var hops = Chain(
            "from mailbox.omr-peer.test ([127.0.0.27]) by imap.omr-peer.test with LMTP id IAoP (envelope-from <omr-probe@example.org>) for <relaycheck@noc.omr-peer.test>" + Date,
            "from open.omr-peer.test (unknown [127.0.0.21]) by mailbox.omr-peer.test (Postfix) with ESMTP id BF26 for <relaycheck@noc.omr-peer.test>" + Date,
            "from vm (unknown [127.0.0.1]) by open.omr-peer.test (Postfix) with ESMTPS id AF2F for <relay-test@example.net>" + Date);
        var d = RelayHandOff.Decide(hops, "127.0.0.21", new[] { "127.0.0.21", "open.omr-peer.test" }, "[127.0.0.1]");
        Assert.True(d.Relayed, d.Explanation);
        Assert.Equal("mailbox.omr-peer.test", d.Hop!.By);
    }

    [Fact]
    public void A_message_the_tested_server_delivered_itself_is_no_proof()
    {
        // The mailbox MX tested directly: its own hop, then LMTP into the store. LMTP is final delivery, not relaying.
        var hops = Chain(
            "from mailbox.omr-peer.test ([127.0.0.27]) by imap.omr-peer.test with LMTP id IAoP for <relaycheck@noc.omr-peer.test>" + Date,
            "from vm (unknown [127.0.0.1]) by mailbox.omr-peer.test (Postfix) with ESMTP id BF26 for <relaycheck@noc.omr-peer.test>" + Date);
        var d = RelayHandOff.Decide(hops, "127.0.0.27", new[] { "mailbox-mx.omr-peer.test" }, "[127.0.0.1]");
        Assert.False(d.Relayed);
        Assert.Contains("mailbox.omr-peer.test", d.Explanation);
        Assert.Contains("not a relay", d.Explanation);
    }

    [Fact]
    public void A_content_filter_on_the_tested_server_is_not_another_server()
    {
        // Postfix -> amavis (by localhost) -> Postfix again on the same host, then local delivery.
        var hops = Chain(
            "from localhost (localhost [127.0.0.1]) by mx.noc.example.net (Postfix) with ESMTP id 9F1" + Date,
            "from mx.noc.example.net ([127.0.0.1]) by localhost (amavisd-new, port 10024) with ESMTP id x1" + Date,
            "from probe.example.org (probe.example.org [198.51.100.7]) by mx.noc.example.net (Postfix) with ESMTPS id 4A1" + Date);
        var d = RelayHandOff.Decide(hops, "192.0.2.10", new[] { "mx.noc.example.net" }, "probe.example.org");
        Assert.False(d.Relayed, d.Explanation);
    }

    [Fact]
    public void A_relay_behind_outbound_NAT_is_recognised_by_the_next_servers_hop()
    {
        var hops = Chain(
            "from smtp-out.customer.example (smtp-out.customer.example [203.0.113.9]) by mx.noc.example.net (Postfix) with ESMTPS id 77" + Date,
            "from probe.example.org ([198.51.100.7]) by mail.customer.example (Postfix) with ESMTP id 66" + Date);
        var d = RelayHandOff.Decide(hops, "192.0.2.50", new[] { "mail.customer.example" }, "probe.example.org");
        Assert.True(d.Relayed, d.Explanation);
        Assert.Equal("mx.noc.example.net", d.Hop!.By);
    }

    [Fact]
    public void A_relay_that_adds_no_header_of_its_own_shows_in_the_next_servers_hop()
    {
        var hops = Chain("from relay.customer.example (relay.customer.example [192.0.2.50]) by mx.noc.example.net (Postfix) with ESMTP id 55" + Date);
        var d = RelayHandOff.Decide(hops, "192.0.2.50", new[] { "relay.customer.example" }, "probe.example.org");
        Assert.True(d.Relayed, d.Explanation);
    }

    [Fact]
    public void A_single_hop_written_by_the_tested_server_for_the_tester_is_local()
    {
        // The tester and the tested server share an address (a server tested on its own machine): the HELO tells.
        var hops = Chain("from probe.example.org (localhost [127.0.0.1]) by mail.example.org (Postfix) with ESMTP id 44" + Date);
        Assert.False(RelayHandOff.Decide(hops, "127.0.0.1", new[] { "localhost" }, "probe.example.org").Relayed);
        Assert.False(RelayHandOff.Decide(hops, "127.0.0.1", new[] { "localhost", "mail.example.org" }, null).Relayed);
    }

    [Fact]
    public void No_Received_header_is_no_proof()
    {
        var d = RelayHandOff.Decide(Array.Empty<ReceivedHop>(), "192.0.2.50", null, null);
        Assert.False(d.Relayed);
        Assert.Contains("no Received header", d.Explanation);
    }

    [Fact]
    public void The_lab_relays_write_the_next_servers_hop()
    {
        var hops = Chain(
            "from open.mx.omr-lab.test ([127.66.0.1]) by inbound.mailbox.omr-lab.test (Omr lab: the recipient's server) with ESMTP id ABCN for <relaycheck@noc.omr-lab.test>" + Date,
            "from probe.omr-test.example ([127.0.0.1]) by open.mx.omr-lab.test ([127.66.0.1]) with ESMTP id ABC" + Date);
        Assert.True(RelayHandOff.Decide(hops, "127.66.0.1", new[] { "open.mx.omr-lab.test" }, "probe.omr-test.example").Relayed);
        var local = Chain("from probe.omr-test.example ([127.0.0.1]) by mailbox.mx.omr-lab.test ([127.66.0.60]) with ESMTP id ABC" + Date);
        Assert.False(RelayHandOff.Decide(local, "127.66.0.60", new[] { "mailbox.mx.omr-lab.test" }, "probe.omr-test.example").Relayed);
    }

    [Fact]
    public void The_HELO_name_comes_from_the_transcript()
    {
        var t = new[]
        {
            new TranscriptEntry(DateTimeOffset.UtcNow, "S", "220 mx ESMTP"),
            new TranscriptEntry(DateTimeOffset.UtcNow, "C", "EHLO probe.example.org"),
            new TranscriptEntry(DateTimeOffset.UtcNow, "C", "HELO other.example.org"),
        };
        Assert.Equal("probe.example.org", RelayHandOff.HeloOf(t));
        Assert.Null(RelayHandOff.HeloOf(null));
    }
}
