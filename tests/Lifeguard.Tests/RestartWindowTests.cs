namespace Lifeguard.Tests;

/// <summary>Restart intensity and the backoff delay in plain numbers: ticks are milliseconds here.</summary>
public sealed class RestartWindowTests
{
    private static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Max = TimeSpan.FromMilliseconds(700);

    [Fact]
    public void RecordFailure_MoreThanMaxRestartsWithinTheWindow_Exceeds()
    {
        var window = new RestartWindow(maxRestarts: 2, windowTicks: 1000, Initial, Max);

        Assert.False(window.RecordFailure(now: 0));
        Assert.False(window.RecordFailure(now: 400));
        Assert.True(window.RecordFailure(now: 900));
        Assert.Equal(3, window.Count);
    }

    [Fact]
    public void RecordFailure_SpreadBeyondTheWindow_OldOnesAreForgotten()
    {
        var window = new RestartWindow(maxRestarts: 2, windowTicks: 1000, Initial, Max);

        Assert.False(window.RecordFailure(now: 0));
        Assert.False(window.RecordFailure(now: 600));
        Assert.False(window.RecordFailure(now: 1200)); // the failure at 0 is older than the window
        Assert.Equal(2, window.Count);
        Assert.True(window.RecordFailure(now: 1500));
    }

    [Fact]
    public void RecordFailure_ZeroMaxRestarts_TheFirstFailureExceeds()
    {
        var window = new RestartWindow(maxRestarts: 0, windowTicks: 1000, Initial, Max);

        Assert.True(window.RecordFailure(now: 5));
        Assert.Equal(1, window.Count);
    }

    [Fact]
    public void RecordFailure_NoLimit_NeverExceedsAndKeepsNothing()
    {
        var window = new RestartWindow(maxRestarts: null, windowTicks: 1000, Initial, Max);

        for (int i = 0; i < 10_000; i++)
        {
            Assert.False(window.RecordFailure(now: i % 100));
        }

        Assert.Equal(0, window.Count);
    }

    [Fact]
    public void RecordFailure_IntMaxValue_KeepsCountingWithoutOverflow()
    {
        // max + 1 overflowed once, so every failure was dropped as it came: the window counted nothing.
        var window = new RestartWindow(maxRestarts: int.MaxValue, windowTicks: 1000, Initial, Max);

        for (int i = 0; i < 100; i++)
        {
            Assert.False(window.RecordFailure(now: i));
        }

        Assert.Equal(100, window.Count);
    }

    [Fact]
    public void LengthenDelay_DoublesUpToTheCeiling_AndClearStartsOver()
    {
        var window = new RestartWindow(maxRestarts: 1, windowTicks: 1000, Initial, Max);
        Assert.Equal(Initial, window.BackoffDelay);

        TimeSpan[] expected = [TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), Max, Max];
        foreach (var delay in expected)
        {
            window.LengthenDelay();
            Assert.Equal(delay, window.BackoffDelay);
        }

        window.RecordFailure(now: 0);
        window.Clear();
        Assert.Equal(Initial, window.BackoffDelay);
        Assert.Equal(0, window.Count);
        Assert.False(window.RecordFailure(now: 10)); // the failures before the clear no longer count
    }

    [Fact]
    public void ResetDelay_AfterLengthening_IsTheInitialDelay()
    {
        var window = new RestartWindow(maxRestarts: 1, windowTicks: 1000, Initial, Max);
        window.LengthenDelay();
        window.LengthenDelay();

        window.ResetDelay();

        Assert.Equal(Initial, window.BackoffDelay);
    }
}
