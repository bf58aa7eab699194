namespace Lifeguard.Tests;

public sealed class ExceptionTests
{
    [Fact]
    public void ExportedExceptions_AnyType_ImplementILifeguardException()
    {
        var exceptions = typeof(ILifeguardException).Assembly.GetExportedTypes()
            .Where(t => typeof(Exception).IsAssignableFrom(t))
            .ToList();

        Assert.Superset(
            new HashSet<Type>
            {
                typeof(LifeguardException), typeof(PoolTimeoutException), typeof(PoolRejectedException),
                typeof(PoolBackoffException), typeof(WorkerStartException), typeof(PoolStoppedException),
            },
            exceptions.ToHashSet());
        Assert.All(exceptions, t => Assert.True(typeof(ILifeguardException).IsAssignableFrom(t), $"{t} is not an ILifeguardException"));
    }

    [Fact]
    public void ExceptionBaseTypes_Catching_WorksTheUsualWay()
    {
        Assert.True(typeof(TimeoutException).IsAssignableFrom(typeof(PoolTimeoutException)));
        Assert.True(typeof(ObjectDisposedException).IsAssignableFrom(typeof(PoolStoppedException)));
        Assert.True(typeof(LifeguardException).IsAssignableFrom(typeof(PoolRejectedException)));
        Assert.True(typeof(LifeguardException).IsAssignableFrom(typeof(PoolBackoffException)));
        Assert.True(typeof(LifeguardException).IsAssignableFrom(typeof(WorkerStartException)));
    }
}
