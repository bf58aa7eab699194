using System.Buffers.Binary;
using System.Net.Sockets;

namespace Lifeguard.Python;

/// <summary>The connections forked workers make back to the host: accepted, identified by token, handed to their request.</summary>
internal sealed partial class ForkServer
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            _ = IdentifyAsync(connection);
        }
    }

    /// <summary>Reads a connection's token and stream tag and hands it to its request; anything else is closed.</summary>
    private async Task IdentifyAsync(Socket connection)
    {
        var hello = new byte[TokenBytes + 1];
        PendingFork? pending = null;
        try
        {
            using var timeout = new CancellationTokenSource(IdentifyTimeout, _settings.Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _stopping.Token);
            for (int read = 0; read < hello.Length;)
            {
                int n = await connection.ReceiveAsync(hello.AsMemory(read), SocketFlags.None, linked.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }

            // struct ucred: pid, uid, gid. Another user's process is never a worker of this host.
            var credentials = new byte[12];
            int peer = connection.GetRawSocketOption(SolSocket, SoPeerCred, credentials) == 12
                && BinaryPrimitives.ReadUInt32LittleEndian(credentials.AsSpan(4)) == NativeMethods.UserId
                ? BinaryPrimitives.ReadInt32LittleEndian(credentials)
                : 0;
            string token = Convert.ToHexStringLower(hello.AsSpan(0, TokenBytes));
            lock (_gate)
            {
                if (_pending.TryGetValue(token, out pending) && !pending.Finished)
                {
                    if (hello[TokenBytes] == (byte)'P' && pending.Protocol is null)
                    {
                        (pending.Protocol, pending.ProtocolPeer) = (connection, peer);
                    }
                    else if (hello[TokenBytes] == (byte)'E' && pending.Error is null)
                    {
                        (pending.Error, pending.ErrorPeer) = (connection, peer);
                    }
                    else
                    {
                        pending = null;
                    }
                }
                else
                {
                    pending = null;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            pending = null;
        }

        if (pending is null)
        {
            connection.Dispose();
            return;
        }

        TryComplete(pending);
    }
}
