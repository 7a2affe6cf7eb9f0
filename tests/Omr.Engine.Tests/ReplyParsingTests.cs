using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Omr.Engine.Discovery;
using Omr.Engine.Probing;
using Omr.Engine.Probing.Battery;
using Xunit;

namespace Omr.Engine.Tests;

/// <summary>
/// Replies kept as read and split on demand, the process-wide cache of repeated reply lines, the
/// compact transcript built into entries only when read, and the allocation-free input checks.
/// </summary>
public class ReplyParsingTests
{
    private static SmtpReply Read(string raw)
    {
        var lines = raw.Split('\n');
        return new SmtpReply(int.Parse(lines[0].Substring(0, 3)), lines[0], lines.Length > 1 ? lines.Skip(1).ToList() : null);
    }

    [Theory]
    [InlineData("550 5.7.1 Relaying denied", 550, "5.7.1", "Relaying denied", "550 5.7.1 Relaying denied")]
    [InlineData("550 5.7.1   Relaying denied", 550, "5.7.1", "Relaying denied", "550 5.7.1 Relaying denied")]
    [InlineData("250 Ok", 250, null, "Ok", "250 Ok")]
    [InlineData("250", 250, null, "", "250 ")]
    [InlineData("550 4.7.1 class differs from the code", 550, null, "4.7.1 class differs from the code", "550 4.7.1 class differs from the code")]
    [InlineData("451 4.3.0x not a status code", 451, null, "4.3.0x not a status code", "451 4.3.0x not a status code")]
    [InlineData("550 5.7.123 three-digit detail", 550, "5.7.123", "three-digit detail", "550 5.7.123 three-digit detail")]
    [InlineData("550 5.7.1\tafter a tab", 550, "5.7.1", "after a tab", "550 5.7.1 after a tab")]
    [InlineData("550  5.7.1 code after two spaces", 550, null, " 5.7.1 code after two spaces", "550  5.7.1 code after two spaces")]
    [InlineData("550 5.7.1", 550, "5.7.1", "", "550 5.7.1 ")]
    [InlineData("550 5.7.1 ", 550, "5.7.1", "", "550 5.7.1 ")]
    public void A_reply_read_as_lines_splits_like_one_built_from_texts(string line, int code, string? enhanced, string text, string display)
    {
        var read = Read(line);
        var built = new SmtpReply(code, new[] { line.Length > 4 ? line.Substring(4) : string.Empty });
        foreach (var r in new[] { read, built })
        {
            Assert.Equal(code, r.Code);
            Assert.Equal(enhanced, r.EnhancedCode);
            Assert.Equal(text, r.Text);
            Assert.Equal(display, r.ToString());
        }
        Assert.Equal(built.Lines, read.Lines);
    }

    [Fact]
    public void A_multi_line_reply_keeps_every_line_text_after_its_code()
    {
        var r = Read("250-mx.example.com\n250-PIPELINING\n250-SIZE 1000\n250 8BITMIME");
        Assert.Equal(new[] { "mx.example.com", "PIPELINING", "SIZE 1000", "8BITMIME" }, r.Lines);
        Assert.Equal("mx.example.com", r.Text);
    }

    [Fact]
    public void A_canonical_line_is_its_own_display_text()
    {
        const string line = "250 2.1.5 Ok";
        Assert.Same(line, Read(line).ToString());
    }

    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void The_reply_cache_shares_a_line_only_when_its_bytes_came_before()
    {
        var line = "550 5.7.1 <cache-" + Guid.NewGuid().ToString("N") + "@example.net>: Relay access denied";
        var bytes = B(line);
        Assert.False(ReplyCache.TryGet(bytes, 0, bytes.Length, out _));   // first sight: decoded the long way, no copy kept
        Assert.True(ReplyCache.TryGet(bytes, 0, bytes.Length, out var second));
        Assert.Equal(line, second.Line);
        Assert.True(ReplyCache.TryGet(bytes, 0, bytes.Length, out var third));
        Assert.Same(second, third);
        var reply = third.OneLineReply(550);
        Assert.Same(reply, third.OneLineReply(550));
        Assert.Equal("5.7.1", reply.EnhancedCode);
        Assert.Equal(line.Substring(10), reply.Text);
    }

    [Fact]
    public void A_cached_line_is_never_returned_for_other_bytes()
    {
        // Fill the table with many lines, then check every one reads back as itself (slot collisions replace, never confuse).
        var lines = Enumerable.Range(0, 20000).Select(i => $"550 5.1.1 <user{i}@example.net>: unknown").ToArray();
        for (int round = 0; round < 2; round++)
            foreach (var l in lines)
            {
                var b = B(l);
                if (ReplyCache.TryGet(b, 0, b.Length, out var e)) Assert.Equal(l, e.Line);
            }
        // A buffer longer than the line: only the counted bytes matter.
        var padded = B("221 2.0.0 Bye" + "XXXX");
        ReplyCache.TryGet(padded, 0, 13, out _);
        Assert.True(ReplyCache.TryGet(padded, 0, 13, out var bye));
        Assert.Equal("221 2.0.0 Bye", bye.Line);
        // A line in the middle of a read buffer: only its own bytes count.
        var inBuffer = B("250 2.1.0 Ok\r\n221 2.0.0 Bye\r\n");
        Assert.True(ReplyCache.TryGet(inBuffer, 14, 13, out var fromBuffer));
        Assert.Same(bye, fromBuffer);
    }

    [Theory]
    [InlineData("")]
    [InlineData("550 5.7.1 caf\u00e9")]
    [InlineData("550 5.7.1 a\tb")]
    public void Lines_that_are_empty_or_not_printable_ascii_are_not_cached(string line)
    {
        var b = Encoding.UTF8.GetBytes(line);
        Assert.False(ReplyCache.TryGet(b, 0, b.Length, out _));
        Assert.False(ReplyCache.TryGet(b, 0, b.Length, out _));
    }

    [Fact]
    public void A_long_line_is_not_cached()
    {
        var b = B("550 " + new string('x', ReplyCache.MaxLineLength));
        Assert.False(ReplyCache.TryGet(b, 0, b.Length, out _));
        Assert.False(ReplyCache.TryGet(b, 0, b.Length, out _));
    }

    [Fact]
    public void A_result_transcript_is_built_when_read_and_holds_what_was_written_before_the_result()
    {
        var clock = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.FromHours(1));
        var t = new Transcript(() => clock);
        t.Client("EHLO probe.example.org");
        t.Server("250 mx.example.com");
        t.Note("line with\r\nX-Injected: yes");
        var result = new RelayTestResult { TranscriptSource = t.Snapshot() };
        t.Client("QUIT"); // after the result: not part of it
        var entries = result.Transcript;
        Assert.Equal(new[] { "C", "S", "*" }, entries.Select(e => e.Direction));
        Assert.Equal("EHLO probe.example.org", entries[0].Text);
        Assert.Equal("line with\\x0d\\x0aX-Injected: yes", entries[2].Text);
        Assert.Equal(clock, entries[0].Time);
        Assert.Equal(TimeSpan.FromHours(1), entries[0].Time.Offset);
        Assert.Same(entries, result.Transcript);
        var copy = result.Copy();
        Assert.Same(result.Transcript, copy.Transcript);
        result.Transcript = Array.Empty<TranscriptEntry>();
        Assert.Empty(result.Transcript);
        Assert.Equal(3, copy.Transcript.Length);
    }

    [Fact]
    public void The_transcript_keeps_order_under_concurrent_writers_and_stops_at_its_bound()
    {
        var t = new Transcript();
        Parallel.For(0, 4, w =>
        {
            for (int i = 0; i < 1500; i++) t.Add("C", $"{w}:{i}", w);
        });
        var all = t.ToArray();
        Assert.Equal(Transcript.MaxEntries + 1, all.Length);
        Assert.Equal($"transcript truncated after {Transcript.MaxEntries} entries", all.Last().Text);
        // Each writer's lines stay in its own order.
        for (int w = 0; w < 4; w++)
        {
            var mine = all.Where(e => e.Text.StartsWith(w + ":", StringComparison.Ordinal)).Select(e => int.Parse(e.Text.Substring(2))).ToList();
            Assert.Equal(mine.OrderBy(x => x), mine);
        }
        var only2 = t.ToArray(tag => tag == 2);
        Assert.All(only2.Where(e => e.Direction == "C"), e => Assert.StartsWith("2:", e.Text));
    }

    [Theory]
    [InlineData("RCPT TO:", "<relay-test@example.net>")]
    [InlineData("MAIL FROM:", "<>")]
    [InlineData("MAIL FROM:", "")]
    [InlineData("RCPT TO:", "<a\u202eb@example.net>")]
    [InlineData("VRFY ", "postmaster")]
    public void A_command_kept_as_verb_and_argument_reads_as_the_joined_line(string verb, string argument)
    {
        var apart = new Transcript();
        apart.Command(verb, argument, 3);
        var joined = new Transcript();
        joined.Add("C", verb + argument, 3);
        var a = apart.ToArray().Single();
        var j = joined.ToArray().Single();
        Assert.Equal(j.Direction, a.Direction);
        Assert.Equal(j.Text, a.Text);
        Assert.Single(apart.ToArray(tag => tag == 3));
        Assert.Empty(apart.ToArray(tag => tag == 4));
    }

    [Fact]
    public void A_long_command_argument_is_bounded_like_any_line()
    {
        var arg = "<" + new string('x', 2000) + "@example.net>";
        var apart = new Transcript();
        apart.Command("RCPT TO:", arg, -1);
        var joined = new Transcript();
        joined.Add("C", "RCPT TO:" + arg);
        Assert.Equal(joined.ToArray().Single().Text, apart.ToArray().Single().Text);
        Assert.Contains("[truncated", apart.ToArray().Single().Text);
    }

    [Fact]
    public void A_direction_other_than_C_S_and_star_is_kept()
    {
        var t = new Transcript();
        t.Add("TLS", "handshake");
        t.Client("EHLO x");
        Assert.Equal(new[] { "TLS", "C" }, t.ToArray().Select(e => e.Direction));
    }

    [Theory]
    [InlineData("192.0.2.1", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("255.255.255.255", true)]
    [InlineData("256.1.1.1", false)]
    [InlineData("1.2.3", false)]
    [InlineData("1.2.3.4.5", false)]
    [InlineData("1.2.3.4.", false)]
    [InlineData(".1.2.3", false)]
    [InlineData("01.2.3.4", false)]
    [InlineData("1..2.3", false)]
    [InlineData("1.2.3.1000", false)]
    [InlineData("1.2.3.a", false)]
    [InlineData("", false)]
    public void Dotted_quads_are_four_decimal_numbers_without_leading_zeros(string s, bool expected)
        => Assert.Equal(expected, TargetParser.IsDottedQuad(s));

    [Theory]
    [InlineData("mx1.example.com", "example.com")]
    [InlineData("a.b.c.d", "b.c.d")]
    [InlineData("example.com", "example.com")]
    [InlineData("localhost", "localhost")]
    [InlineData("[192.0.2.1]", null)]
    public void The_parent_domain_drops_the_first_label_of_three_or_more(string host, string? expected)
        => Assert.Equal(expected, Names.ParentDomain(host));

    [Theory]
    [InlineData("550 5.7.1 <relay-test%example.net@[192.0.2.7]>: Relay access denied")]
    [InlineData("250 2.1.5 Ok")]
    [InlineData("550 Relaying denied")]
    [InlineData("550")]
    [InlineData("550 5.7.1 bell\u0007 and escape \u001b[31m inside")]
    [InlineData("550 5.7.1 right-to-left \u202e override")]
    public void An_outcome_text_reads_as_the_sanitized_reply_text(string line)
    {
        var reply = Read(line);
        var outcome = new Omr.RelayTestOutcome();
        BatteryState.SetReplyText(outcome, reply);
        Assert.Equal(Transcript.Sanitize(Read(line).Text), outcome.Text);
        Assert.Same(outcome.Text, outcome.Text);
        Assert.All(outcome.Text!, ch => Assert.False(ServerText.IsUnsafe(ch)));
        outcome.Text = "set by hand";
        Assert.Equal("set by hand", outcome.Text);
    }

    [Fact]
    public void An_over_long_outcome_text_is_cut_with_its_length()
    {
        var line = "550 5.7.1 " + new string('x', 1500);
        var outcome = new Omr.RelayTestOutcome();
        BatteryState.SetReplyText(outcome, Read(line));
        Assert.EndsWith("…[truncated 1500 chars]", outcome.Text);
        Assert.Equal(Transcript.Sanitize(new string('x', 1500)), outcome.Text);
    }

    [Fact]
    public void A_shared_reply_gives_its_already_cut_text()
    {
        var reply = Read("550 5.7.1 Relay access denied");
        var text = reply.Text;
        var outcome = new Omr.RelayTestOutcome();
        BatteryState.SetReplyText(outcome, reply);
        Assert.Same(text, outcome.Text);
    }

    [Fact]
    public async Task Stream_reads_take_the_memory_overload_on_this_runtime_and_fill_at_the_offset()
    {
        Assert.True(StreamIo.UsesMemoryOverload);
        var data = Encoding.ASCII.GetBytes("220 ready\r\n");
        using var stream = new System.IO.MemoryStream(data);
        var buffer = new byte[32];
        int n = await StreamIo.ReadAsync(stream, buffer, 5, 8, default);
        Assert.Equal(8, n);
        Assert.Equal("220 read", Encoding.ASCII.GetString(buffer, 5, 8));
        Assert.Equal(0, buffer[4]);
        Assert.Equal(0, buffer[13]);
    }
}
