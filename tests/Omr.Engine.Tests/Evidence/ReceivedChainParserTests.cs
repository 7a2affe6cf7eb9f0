using MimeKit;
using Omr;
using Omr.Engine.Evidence;
using Xunit;

namespace Omr.Engine.Tests.Evidence;

public class ReceivedChainParserTests
{
    [Fact]
    public void Postfix()
    {
        var hop = ReceivedChainParser.ParseHop(
            "from client.example.org (mail.example.org [192.0.2.10])\r\n\tby mx.example.net (Postfix) with ESMTPS id 4Xyz1234AbC\r\n\tfor <relaycheck@noc.example.net>; Tue, 14 May 2024 10:11:12 +0200 (CEST)");
        Assert.Equal("mail.example.org", hop.From);
        Assert.Equal("client.example.org", hop.Helo);
        Assert.Equal("192.0.2.10", hop.Ip);
        Assert.Equal("mx.example.net", hop.By);
        Assert.Null(hop.ByIp);
        Assert.Equal("ESMTPS", hop.With);
        Assert.Equal("4Xyz1234AbC", hop.Id);
        Assert.Equal("relaycheck@noc.example.net", hop.For);
        Assert.Equal(new DateTimeOffset(2024, 5, 14, 10, 11, 12, TimeSpan.FromHours(2)), hop.Timestamp);
        Assert.False(hop.Raw.Contains('\r') || hop.Raw.Contains('\n') || hop.Raw.Contains('\t'));
        Assert.StartsWith("from client.example.org (mail.example.org [192.0.2.10]) by mx.example.net", hop.Raw);
    }

    [Fact]
    public void PostfixUnknownReverseName()
    {
        var hop = ReceivedChainParser.ParseHop("from helo.bad (unknown [198.51.100.7]) by mx.example.net (Postfix) with SMTP id 1A2B; Mon, 1 Jan 2024 00:00:00 +0000");
        Assert.Equal("helo.bad", hop.From);
        Assert.Equal("helo.bad", hop.Helo);
        Assert.Equal("198.51.100.7", hop.Ip);
    }

    [Fact]
    public void Exchange()
    {
        var hop = ReceivedChainParser.ParseHop(
            "from EXCH01.contoso.local (10.0.0.5) by EXCH02.contoso.local (10.0.0.6) with Microsoft SMTP Server\r\n (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.1.2375.7;\r\n Mon, 6 May 2024 09:00:01 +0000");
        Assert.Equal("EXCH01.contoso.local", hop.Helo);
        Assert.Equal("EXCH01.contoso.local", hop.From);
        Assert.Equal("10.0.0.5", hop.Ip);
        Assert.Equal("EXCH02.contoso.local", hop.By);
        Assert.Equal("10.0.0.6", hop.ByIp);
        Assert.Equal("Microsoft SMTP Server", hop.With);
        Assert.Equal("15.1.2375.7", hop.Id);
        Assert.Equal(new DateTimeOffset(2024, 5, 6, 9, 0, 1, TimeSpan.Zero), hop.Timestamp);
    }

    [Fact]
    public void GmailLike()
    {
        var hop = ReceivedChainParser.ParseHop(
            "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])\r\n        by mx.google.com with SMTPS id a2sor123456.2024.05.06.01.02.03\r\n        for <user@gmail.com>\r\n        (Google Transport Security);\r\n        Mon, 06 May 2024 01:02:03 -0700 (PDT)");
        Assert.Equal("mail-sor-f41.google.com", hop.From);
        Assert.Equal("209.85.220.41", hop.Ip);
        Assert.Equal("mx.google.com", hop.By);
        Assert.Equal("SMTPS", hop.With);
        Assert.Equal("user@gmail.com", hop.For);
        Assert.Equal(new DateTimeOffset(2024, 5, 6, 1, 2, 3, TimeSpan.FromHours(-7)), hop.Timestamp);
    }

    [Fact]
    public void Ipv6Literal()
    {
        var hop = ReceivedChainParser.ParseHop("from relay.example.org (relay.example.org [IPv6:2001:db8::25]) by mx.example.net ([IPv6:2001:db8::1]) with ESMTP id X1; Mon, 6 May 2024 01:02:03 +0000");
        Assert.Equal("2001:db8::25", hop.Ip);
        Assert.Equal("2001:db8::1", hop.ByIp);
        Assert.True(ReceivedChainParser.ChainShows(new[] { hop }, "2001:0db8:0000::25"));
        Assert.True(ReceivedChainParser.ChainShows(new[] { hop }, "2001:db8::1"));
        Assert.False(ReceivedChainParser.ChainShows(new[] { hop }, "2001:db8::2"));
    }

    [Fact]
    public void EximWithHeloComment()
    {
        var hop = ReceivedChainParser.ParseHop("from [203.0.113.9] (helo=client.example)\r\n\tby mx.example.com with esmtps (TLS1.2) (Exim 4.96)\r\n\t(envelope-from <a@b.example>) id 1rAbCd-000123-4x\r\n\tfor x@y.example; Tue, 07 May 2024 12:00:00 +0100");
        Assert.Equal("203.0.113.9", hop.Ip);
        Assert.Equal("client.example", hop.Helo);
        Assert.Equal("mx.example.com", hop.By);
        Assert.Equal("1rAbCd-000123-4x", hop.Id);
        Assert.Equal("x@y.example", hop.For);
    }

    [Fact]
    public void LabFormatNamesTheRelayInTheByClause()
    {
        var hop = ReceivedChainParser.ParseHop("from probe.example ([127.0.0.1]) by open.omr-lab.test ([127.0.0.5]) with ESMTP id ABC; Mon, 06 May 2024 01:02:03 +0000");
        Assert.Equal("127.0.0.1", hop.Ip);
        Assert.Equal("open.omr-lab.test", hop.By);
        Assert.Equal("127.0.0.5", hop.ByIp);
        Assert.True(ReceivedChainParser.ChainShows(new[] { hop }, "127.0.0.5"));
    }

    [Fact]
    public void DovecotLmtp()
    {
        var hop = ReceivedChainParser.ParseHop("from open.omr-peer.test ([127.0.0.21])\r\n\tby peers.local with LMTP\r\n\tid kDq3LQ1ZOGaqAQAAbNWPFw\r\n\t(envelope-from <probe@omr.invalid>)\r\n\tfor <relaycheck@noc.omr-peer.test>; Mon, 06 May 2024 03:04:05 +0000");
        Assert.Equal("127.0.0.21", hop.Ip);
        Assert.Equal("open.omr-peer.test", hop.From);
        Assert.Equal("LMTP", hop.With);
        Assert.Equal("relaycheck@noc.omr-peer.test", hop.For);
    }

    [Fact]
    public void CommentsWithParenthesesAndSemicolonsInside()
    {
        var hop = ReceivedChainParser.ParseHop("from a.example (a.example [192.0.2.1] (may be forged; really)) by b.example (Sendmail 8.15.2/8.15.2; tls) with ESMTP id x1 ; Wed, 08 May 2024 08:00:00 -0000");
        Assert.Equal("192.0.2.1", hop.Ip);
        Assert.Equal("b.example", hop.By);
        Assert.Equal("x1", hop.Id);
        Assert.NotNull(hop.Timestamp);
    }

    [Fact]
    public void GarbageDoesNotThrowAndEscapesControlCharacters()
    {
        var hop = ReceivedChainParser.ParseHop("\u0001garbage ((( [999.1.1.1] by ; not a date");
        Assert.Null(hop.Ip);
        Assert.Null(hop.Timestamp);
        Assert.False(hop.Raw.Contains('\u0001'));
        Assert.StartsWith("\\x01garbage", hop.Raw, StringComparison.Ordinal);
        Assert.Null(ReceivedChainParser.ParseIp("10"));
        Assert.Null(ReceivedChainParser.ParseIp("Postfix"));
        Assert.Equal("192.0.2.1", ReceivedChainParser.ParseIp("::ffff:192.0.2.1"));
    }

    [Fact]
    public void ChainIsTopFirstFromHeaders()
    {
        var msg = new MimeMessage();
        msg.Headers.Add("Received", "from b.example ([192.0.2.2]) by c.example with LMTP; Mon, 06 May 2024 01:00:02 +0000");
        msg.Headers.Add("Received", "from a.example ([192.0.2.1]) by b.example with ESMTP; Mon, 06 May 2024 01:00:01 +0000");
        var hops = ReceivedChainParser.Parse(msg.Headers);
        Assert.Equal(2, hops.Length);
        Assert.Equal("c.example", hops[0].By);
        Assert.Equal("b.example", hops[1].By);
        Assert.True(ReceivedChainParser.ChainShows(hops, "192.0.2.2"));
    }
}
