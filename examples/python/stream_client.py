import requests
import json


def invokeStreamLlm():
    requestBody = {
        "name": "Hello World!"
    }
    response = requests.post(
        "http://127.0.0.1:8080/chat?format=envelope&mode=chars&delay=100",
        json=requestBody,
        stream=True,
        headers={"Content-Type": "application/json"},
    )
    if response.status_code != 200:
        return
    for line in response.iter_lines():
        if line and line.strip():
            content = json.loads(line[5:])
            code = content['code']
            if code == 200:
                print(content['data'])
            elif code == -200:
                print('结束标识')


if __name__ == "__main__":
    content = invokeStreamLlm()
