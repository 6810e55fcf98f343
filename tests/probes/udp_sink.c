/* A UDP server for the network tests (busybox's nc has no -u): binds 0.0.0.0:PORT and
 * prints each datagram it receives, with its sender, on stdout. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("udp_sink");
        return 1;
    }
    for (;;) {
        char buf[2048];
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &len);
        if (n < 0)
            return 1;
        buf[n] = 0;
        printf("from %s: %s", inet_ntoa(from.sin_addr), buf);
        fflush(stdout);
    }
}
