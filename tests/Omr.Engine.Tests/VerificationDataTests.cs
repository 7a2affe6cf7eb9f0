using System.Text;
using MimeKit;
using Omr.Engine.Probing;
using Xunit;

namespace Omr.Engine.Tests;

/// <summary>The verification message as DATA content: RFC 5321 section 4.5.2 transparency and the end of data.</summary>
public class VerificationDataTests
{
    private static MimeMessage Message(string body)
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse("omr-probe@example.org"));
        m.To.Add(MailboxAddress.Parse("relaycheck@noc.example.net"));
        m.Subject = "test";
        m.Body = new TextPart("plain") { Text = body };
        return m;
    }

    [Fact]
    public void Lines_starting_with_a_dot_are_stuffed_and_the_data_ends_with_CRLF_dot_CRLF()
    {
        var text = Encoding.UTF8.GetString(VerificationMessage.ToDataBytes(Message("first\n.hidden\n..two\nlast\n")));
        Assert.Contains("\r\n..hidden\r\n", text, StringComparison.Ordinal);
        Assert.Contains("\r\n...two\r\n", text, StringComparison.Ordinal);
        Assert.EndsWith("\r\nlast\r\n.\r\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\r\n.\r\n", text.Substring(0, text.Length - 3), StringComparison.Ordinal);
        Assert.DoesNotMatch("[^\r]\n", text);
    }

    [Fact]
    public void A_body_without_a_final_newline_still_ends_with_CRLF_dot_CRLF()
    {
        var text = Encoding.UTF8.GetString(VerificationMessage.ToDataBytes(Message("no newline at the end")));
        Assert.EndsWith("no newline at the end\r\n.\r\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lone_dot_line_in_the_body_cannot_end_the_data_early()
    {
        var text = Encoding.UTF8.GetString(VerificationMessage.ToDataBytes(Message("before\n.\nafter\n")));
        Assert.Contains("\r\n..\r\nafter\r\n", text, StringComparison.Ordinal);
        Assert.Equal(text.Length - 3, text.IndexOf("\r\n.\r\n", StringComparison.Ordinal) + 2);
    }
}
