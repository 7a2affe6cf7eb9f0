using Omr.Lab;
using Xunit;
using LabHost = Omr.Lab.Lab;

namespace Omr.Engine.Tests;

/// <summary>One embedded lab for every engine test class that needs servers.</summary>
public sealed class LabFixture : IAsyncLifetime
{
    public LabHost Lab { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Lab = await LabHost.StartAsync(new LabOptions
        {
            GreylistDelay = TimeSpan.FromSeconds(1),
            TarpitDelay = TimeSpan.FromSeconds(30),
        });
    }

    public async Task DisposeAsync() => await Lab.DisposeAsync();
}

[CollectionDefinition("lab")]
public sealed class LabCollection : ICollectionFixture<LabFixture> { }
