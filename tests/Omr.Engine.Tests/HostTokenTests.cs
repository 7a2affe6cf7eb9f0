using Omr.Engine.Probing;
using Xunit;

namespace Omr.Engine.Tests;

/// <summary>The greeting's first word is used as {host} only when it is a real host name.</summary>
public class HostTokenTests
{
    [Theory]
    [InlineData("mx.example.com", true)]
    [InlineData("mx.example.com.", true)]
    [InlineData("a1-b.c2", true)]
    [InlineData("localhost", false)]
    [InlineData("", false)]
    [InlineData(".example.com", false)]
    [InlineData("mx..example.com", false)]
    [InlineData("-mx.example.com", false)]
    [InlineData("mx.exa_mple.com", false)]
    [InlineData("mx.example.com\r\nX-Injected: yes", false)]
    [InlineData("[192.0.2.1]", false)]
    [InlineData("ESMTP", false)]
    public void Only_host_names_with_two_or_more_labels_count(string word, bool expected)
        => Assert.Equal(expected, Names.IsHostToken(word));

    [Fact]
    public void A_label_longer_than_63_is_no_host()
        => Assert.False(Names.IsHostToken(new string('a', 64) + ".example"));
}
