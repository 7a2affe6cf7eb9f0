using Omr.Engine.Discovery;
using Omr.Engine.Evidence;
using Xunit;

namespace Omr.Engine.Tests;

/// <summary>The one bounded read of a stream, behind the mailbox's messages and the RDAP answers.</summary>
public class BoundedReadTests
{
    private static MemoryStream Bytes(long n) => new(new byte[n]);

    [Theory]
    [InlineData(0, 10)]
    [InlineData(10, 10)]
    [InlineData(200000, 200000)] // more than one buffer, exactly the bound
    public async Task Up_to_the_bound_everything_is_read(long length, long max)
        => Assert.Equal(length, (await BoundedRead.ReadAsync(Bytes(length), max, CancellationToken.None))!.Length);

    [Theory]
    [InlineData(11, 10)]
    [InlineData(200001, 200000)]
    public async Task One_byte_more_is_refused(long length, long max)
        => Assert.Null(await BoundedRead.ReadAsync(Bytes(length), max, CancellationToken.None));

    [Fact]
    public async Task The_callers_keep_their_own_bounds_and_errors()
    {
        Assert.Equal(RdapAbuseLookup.MaxBodyBytes, (await BoundedRead.ReadAsync(Bytes(RdapAbuseLookup.MaxBodyBytes), RdapAbuseLookup.MaxBodyBytes, CancellationToken.None))!.Length);
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => MailConnect.ReadBoundedAsync(Bytes(MailConnect.MaxMessageBytes + 1), CancellationToken.None));
        Assert.Equal("the message is larger than 25 MB", ex.Message);
        Assert.Equal(MailConnect.MaxMessageBytes, (await MailConnect.ReadBoundedAsync(Bytes(MailConnect.MaxMessageBytes), CancellationToken.None)).Length);
    }
}
