print("maild")
